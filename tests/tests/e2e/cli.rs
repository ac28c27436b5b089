//! Running the real binary against a test server's data dir and database.

use std::process::Command;
use workroom_tests::workroom_server::config::Config;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_workroom-under-test");

/// Run `workroom <args> --data-dir <the server's>` on the server's database.
pub(crate) fn workroom(config: &Config, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .arg("--data-dir")
        .arg(&config.data_dir)
        .env("WORKROOM_LOG__FILTER", "warn");
    if let Some(url) = &config.database_url {
        command.env("WORKROOM_DATABASE_URL", url);
    }
    command.output().expect("run workroom")
}

/// The stdout of a run that must succeed.
pub(crate) fn ok(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
