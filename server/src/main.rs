//! The `workroom` binary: everything lives in the library ([`workroom_server::cli`]).

fn main() -> std::process::ExitCode {
    workroom_server::cli::main()
}
