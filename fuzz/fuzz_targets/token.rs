//! Any bearer token, raw or a valid one with bytes changed or cut. Verification never
//! panics, and only the exact token the key signed verifies: a change anywhere (header,
//! claims, signature, padding bits of the base64, the algorithm it names) is refused.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use workroom_protocol::Role;
use workroom_server::auth::{DevKey, TokenVerifier};
use workroom_server::config::Config;
use workroom_storage::Clock;

struct Fixture {
    verifier: TokenVerifier,
    token: String,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, _) = DevKey::load_or_create(dir.path()).expect("dev key");
    let auth = Config::default().auth;
    let clock = Clock::system();
    let now = clock.now_secs();
    // Long enough to outlive any fuzzing run: the property is about bytes, not time.
    let token = key
        .mint(
            &auth.issuer,
            &auth.audience,
            "u1",
            Role::Member,
            None,
            None,
            86_400,
            now,
        )
        .expect("a token");
    let verifier = TokenVerifier::new(&auth, Some(key), clock).expect("verifier");
    verifier
        .verify(&token)
        .expect("the fixture's own token verifies");
    Fixture { verifier, token }
});

#[derive(Debug, Arbitrary)]
enum Input {
    Raw(String),
    Changed {
        /// (position, byte): the byte at `position % len` becomes `byte`.
        edits: Vec<(u16, u8)>,
        /// Keep only the first `cut % (len + 1)` bytes.
        cut: Option<u16>,
    },
}

fuzz_target!(|input: Input| {
    let fixture = &*FIXTURE;
    let candidate = match input {
        Input::Raw(text) => text,
        Input::Changed { edits, cut } => {
            let mut bytes = fixture.token.clone().into_bytes();
            for (at, byte) in edits {
                let at = usize::from(at) % bytes.len();
                bytes[at] = byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(usize::from(cut) % (bytes.len() + 1));
            }
            match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => return,
            }
        }
    };
    if fixture.verifier.verify(&candidate).is_ok() {
        assert_eq!(
            candidate, fixture.token,
            "a token other than the one signed verified"
        );
    }
});
