//! The `workroom` binary: everything lives in the library ([`workroom_server::cli`]).
//!
//! The global allocator is mimalloc: with glibc's malloc the server kept its peak RSS after
//! a storm of connections had closed (freed memory stays in per-thread arenas), and its
//! allocation fast path was a visible share of the message path's CPU. Measured in
//! `docs/benchmarks.md` ("Performance (issue 18)").

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    workroom_server::cli::main()
}
