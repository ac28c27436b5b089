//! Any download link's parts (file, user, expiry, signature) at any time. The check never
//! panics, and a link passes only when it is the one the server signed for exactly that
//! file, user and expiry, and has not expired.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use workroom_server::links::LinkSigner;
use workroom_storage::{Keyring, MasterKey, MasterKeySet};

static SIGNER: LazyLock<LinkSigner> = LazyLock::new(|| {
    LinkSigner::new(&Keyring::new(
        MasterKeySet::new(vec![MasterKey::generate()]).expect("a key set"),
    ))
});

#[derive(Debug, Arbitrary)]
struct Input {
    file: String,
    user: String,
    expires: i64,
    now: i64,
    /// `None`: the genuine signature, with `flip` applied when given.
    signature: Option<String>,
    flip: Option<(u8, u8)>,
}

fuzz_target!(|input: Input| {
    let signer = &*SIGNER;
    let genuine = signer.sign(&input.file, &input.user, input.expires);
    let signature = match (input.signature, input.flip) {
        (Some(signature), _) => signature,
        (None, None) => genuine.clone(),
        (None, Some((at, byte))) => {
            let mut bytes = genuine.clone().into_bytes();
            let at = usize::from(at) % bytes.len();
            bytes[at] = byte;
            match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => return,
            }
        }
    };
    let verified = signer.verify(
        &input.file,
        &input.user,
        input.expires,
        &signature,
        input.now,
    );
    if let Some(claims) = verified {
        assert_eq!(
            signature, genuine,
            "a signature other than the genuine one passed"
        );
        assert!(input.expires >= input.now, "an expired link passed");
        assert_eq!((claims.file, claims.user), (input.file, input.user));
    }
});
