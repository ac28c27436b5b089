//! A legal bundle as `workroom legal verify` reads it: any bytes, or a valid bundle with
//! bytes changed, cut or appended. Verification never panics, and a bundle verifies only
//! when it is byte for byte the one signed (the promise of issue 14: changing any byte is
//! caught).
#![no_main]

use arbitrary::Arbitrary;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use workroom_protocol::legal::{BUNDLE_FORMAT, MANIFEST_PATH, Manifest, SIGNATURE_PATH};
use workroom_server::bundle::{TarWriter, verify};
use workroom_server::signing_key::key_id;

struct Fixture {
    public: Vec<u8>,
    bundle: Vec<u8>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let pair = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("a key pair");
    let bundle = futures_executor::block_on(async {
        let mut writer = TarWriter::new(Vec::new(), 1_796_083_200);
        writer
            .add("messages.jsonl", b"{\"seq\":1,\"body\":\"hello\"}\n")
            .await
            .unwrap();
        writer
            .add("files/f1/a.pdf", b"%PDF-1.7 bytes")
            .await
            .unwrap();
        let manifest = Manifest {
            format: BUNDLE_FORMAT.into(),
            export_id: "lex_1".into(),
            request_id: "req-1".into(),
            scope: "room".into(),
            target: "rm_1".into(),
            from: None,
            until: None,
            created_at: "2026-12-01T00:00:00Z".into(),
            server_version: "fuzz".into(),
            requested_by: "legal-1".into(),
            audit_head: None,
            key_id: key_id(pair.public_key().as_ref()),
            notes: Vec::new(),
            entries: writer.listed().to_vec(),
        };
        let json = serde_json::to_vec(&manifest).unwrap();
        writer.add_unlisted(MANIFEST_PATH, &json).await.unwrap();
        let signature = pair.sign(&json);
        writer
            .add_unlisted(SIGNATURE_PATH, signature.as_ref())
            .await
            .unwrap();
        writer.close().await.unwrap()
    });
    let public = pair.public_key().as_ref().to_vec();
    verify(&bundle[..], &public).expect("the fixture verifies");
    Fixture { public, bundle }
});

#[derive(Debug, Arbitrary)]
enum Input {
    Raw(Vec<u8>),
    Changed {
        /// (position, byte): the byte at `position % len` becomes `byte`.
        edits: Vec<(u32, u8)>,
        cut: Option<u32>,
        appended: Vec<u8>,
    },
}

fuzz_target!(|input: Input| {
    let fixture = &*FIXTURE;
    let candidate = match input {
        Input::Raw(bytes) => bytes,
        Input::Changed {
            edits,
            cut,
            appended,
        } => {
            let mut bytes = fixture.bundle.clone();
            for (at, byte) in edits {
                let at = usize::try_from(at).unwrap_or(usize::MAX) % bytes.len();
                bytes[at] = byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(usize::try_from(cut).unwrap_or(usize::MAX) % (bytes.len() + 1));
            }
            bytes.extend_from_slice(&appended);
            bytes
        }
    };
    if verify(&candidate[..], &fixture.public).is_ok() {
        assert!(
            candidate == fixture.bundle,
            "a bundle other than the one signed verified"
        );
    }
});
