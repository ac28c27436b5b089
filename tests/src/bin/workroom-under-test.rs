//! The `workroom` binary, built inside the test crate so that process-level tests (kill -9,
//! CLI and config errors) can spawn it via `CARGO_BIN_EXE_workroom-under-test`. It is the
//! same entry point as `server/src/main.rs`.

fn main() -> std::process::ExitCode {
    workroom_server::cli::main()
}
