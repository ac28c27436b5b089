//! Any configuration file's text: loading never panics (no overflow in a limit times a
//! unit, no unchecked index), and a configuration that loads has passed validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workroom_server::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_toml(text) {
        config.validate().expect("a loaded configuration is valid");
        // What the server derives from it at start.
        let _ = (
            config.listen_addr(),
            config.files_dir(),
            config.sqlite_path(),
        );
    }
});
