//! Checking a bundle offline, with nothing but its bytes and a public key: the manifest's
//! signature, every entry's size and SHA-256, that the archive holds exactly the entries
//! the manifest lists, and that everything else in it (headers, padding, the end) is in
//! the canonical layout (`super::archive`). Every problem is reported, each naming its
//! entry, so a changed byte, a removed or added entry, or a signature by another key is
//! told apart.

use super::archive::StrictReader;
use super::problem::Problem;
use crate::signing_key::{hex, key_id};
use aws_lc_rs::digest;
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use std::collections::BTreeMap;
use std::io::Read;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use workroom_protocol::legal::{BUNDLE_FORMAT, MANIFEST_PATH, Manifest, SIGNATURE_PATH};

/// The largest manifest read (a bundle of millions of entries stays far below).
const MAX_MANIFEST: u64 = 512 * 1024 * 1024;

/// A bundle that verified.
#[derive(Debug, Clone)]
pub struct Verified {
    pub manifest: Manifest,
    /// Hex SHA-256 of `manifest.json` (what `legal.exported` records).
    pub manifest_sha256: String,
    /// Entries checked (the manifest's list).
    pub entries: usize,
    /// Bytes of those entries.
    pub bytes: u64,
}

struct Seen {
    size: u64,
    sha256: String,
}

/// What reading the archive found.
#[derive(Default)]
struct Contents {
    seen: BTreeMap<String, Seen>,
    manifest: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
    /// (path, mtime) of every entry.
    times: Vec<(String, u64)>,
    /// Read to its end: no layout problem stopped the reading.
    complete: bool,
}

/// Read every entry, hashing the listed ones and keeping the manifest and its signature.
/// Problems go to `problems`; a layout problem ends the reading.
fn read_archive(archive: impl Read, problems: &mut Vec<Problem>) -> Contents {
    let mut out = Contents::default();
    let mut reader = StrictReader::new(archive);
    loop {
        let entry = match reader.next_header() {
            Ok(Some(entry)) => entry,
            Ok(None) => {
                out.complete = true;
                break;
            }
            Err(problem) => {
                problems.push(problem);
                break;
            }
        };
        if out.signature.is_some() {
            problems.push(Problem::AfterSignature(entry.path.clone()));
        }
        out.times.push((entry.path.clone(), entry.mtime));
        let special = entry.path == MANIFEST_PATH || entry.path == SIGNATURE_PATH;
        if special && entry.size > MAX_MANIFEST {
            problems.push(Problem::BadManifest(format!("{} is too large", entry.path)));
            break;
        }
        let mut kept = Vec::new();
        let mut context = digest::Context::new(&digest::SHA256);
        let read = reader.read_data(&entry, |piece| {
            if special {
                kept.extend_from_slice(piece);
            } else {
                context.update(piece);
            }
        });
        if let Err(problem) = read {
            problems.push(problem);
            break;
        }
        let slot = match entry.path.as_str() {
            MANIFEST_PATH => Some(&mut out.manifest),
            SIGNATURE_PATH => Some(&mut out.signature),
            _ => None,
        };
        let duplicate = match slot {
            Some(slot) => slot.replace(kept).is_some(),
            None => {
                let found = Seen {
                    size: entry.size,
                    sha256: hex(context.finish().as_ref()),
                };
                out.seen.insert(entry.path.clone(), found).is_some()
            }
        };
        if duplicate {
            problems.push(Problem::Duplicate(entry.path));
        }
    }
    out
}

/// Verify the bundle read from `archive` against the Ed25519 `public_key` (32 bytes).
pub fn verify(archive: impl Read, public_key: &[u8]) -> Result<Verified, Vec<Problem>> {
    let mut problems = Vec::new();
    let Contents {
        seen,
        manifest: manifest_bytes,
        signature,
        times,
        complete,
    } = read_archive(archive, &mut problems);
    if !complete {
        // The layout problem says where the archive stops making sense; what follows it
        // cannot be checked.
        return Err(problems);
    }
    let Some(manifest_bytes) = manifest_bytes else {
        problems.push(Problem::NoManifest);
        return Err(problems);
    };
    // The signature covers the manifest's exact bytes: checked before they are parsed, so
    // any change to them is reported as what it is.
    let signed_by = serde_json::from_slice::<serde_json::Value>(&manifest_bytes)
        .ok()
        .and_then(|v| v["key_id"].as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    match &signature {
        None => problems.push(Problem::NoSignature),
        Some(sig) => {
            if UnparsedPublicKey::new(&ED25519, public_key)
                .verify(&manifest_bytes, sig)
                .is_err()
            {
                problems.push(Problem::Signature {
                    key_id: key_id(public_key),
                    signed_by,
                });
            }
        }
    }
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            problems.push(Problem::BadManifest(e.to_string()));
            return Err(problems);
        }
    };
    if manifest.format != BUNDLE_FORMAT {
        problems.push(Problem::BadManifest(format!(
            "format {:?}, expected {BUNDLE_FORMAT:?}",
            manifest.format
        )));
    }
    match OffsetDateTime::parse(&manifest.created_at, &Rfc3339) {
        Ok(created) => {
            let secs = u64::try_from(created.unix_timestamp()).unwrap_or(0);
            for (path, mtime) in &times {
                if *mtime != secs {
                    problems.push(Problem::TimeChanged(path.clone()));
                }
            }
        }
        Err(_) => problems.push(Problem::BadManifest("created_at is not RFC 3339".into())),
    }
    let mut bytes = 0u64;
    let mut listed = std::collections::BTreeSet::new();
    for entry in &manifest.entries {
        if !listed.insert(entry.path.as_str()) {
            problems.push(Problem::BadManifest(format!(
                "entry {} is listed twice",
                entry.path
            )));
        }
        bytes += entry.size;
        match seen.get(&entry.path) {
            None => problems.push(Problem::Missing(entry.path.clone())),
            Some(found) if found.size != entry.size => problems.push(Problem::Resized {
                path: entry.path.clone(),
                expected: entry.size,
                found: found.size,
            }),
            Some(found) if found.sha256 != entry.sha256 => problems.push(Problem::Changed {
                path: entry.path.clone(),
                expected: entry.sha256.clone(),
                found: found.sha256.clone(),
            }),
            Some(_) => {}
        }
    }
    for path in seen.keys() {
        if !listed.contains(path.as_str()) {
            problems.push(Problem::Extra(path.clone()));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Verified {
        manifest_sha256: hex(digest::digest(&digest::SHA256, &manifest_bytes).as_ref()),
        entries: manifest.entries.len(),
        bytes,
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::TarWriter;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};

    fn pair() -> Ed25519KeyPair {
        let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap()
    }

    async fn bundle(pair: &Ed25519KeyPair, extra: Option<(&str, &[u8])>) -> Vec<u8> {
        // 2026-12-01T00:00:00Z, the manifest's `created_at`.
        let mut writer = TarWriter::new(Vec::new(), 1_796_083_200);
        writer.add("a.jsonl", b"{\"x\":1}\n").await.unwrap();
        writer.add("b.bin", b"bytes").await.unwrap();
        let manifest = Manifest {
            format: BUNDLE_FORMAT.into(),
            export_id: "lex_1".into(),
            request_id: "req".into(),
            scope: "room".into(),
            target: "rm_1".into(),
            from: None,
            until: None,
            created_at: "2026-12-01T00:00:00Z".into(),
            server_version: "test".into(),
            requested_by: "legal-1".into(),
            audit_head: None,
            key_id: key_id(pair.public_key().as_ref()),
            notes: Vec::new(),
            entries: writer.listed().to_vec(),
        };
        if let Some((path, bytes)) = extra {
            writer.add(path, bytes).await.unwrap();
        }
        let json = serde_json::to_vec(&manifest).unwrap();
        writer.add_unlisted(MANIFEST_PATH, &json).await.unwrap();
        let sig = pair.sign(&json);
        writer
            .add_unlisted(SIGNATURE_PATH, sig.as_ref())
            .await
            .unwrap();
        writer.close().await.unwrap()
    }

    #[tokio::test]
    async fn a_whole_bundle_verifies_and_each_change_is_named() {
        let key = pair();
        let public = key.public_key().as_ref().to_vec();
        let good = bundle(&key, None).await;
        let verified = verify(&good[..], &public).unwrap();
        assert_eq!(verified.entries, 2);

        // A changed byte in an entry.
        let mut changed = good.clone();
        let at = changed.windows(5).position(|w| w == b"bytes").unwrap();
        changed[at] = b'B';
        let problems = verify(&changed[..], &public).unwrap_err();
        assert!(matches!(&problems[..], [Problem::Changed { path, .. }] if path == "b.bin"));

        // Another key.
        let other = pair();
        let problems = verify(&good[..], other.public_key().as_ref()).unwrap_err();
        assert!(matches!(&problems[..], [Problem::Signature { .. }]));

        // An entry the manifest does not list.
        let added = bundle(&key, Some(("c.txt", b"new"))).await;
        let problems = verify(&added[..], &public).unwrap_err();
        assert_eq!(problems, [Problem::Extra("c.txt".into())]);
    }

    #[tokio::test]
    async fn every_byte_outside_the_entries_is_held_to_the_layout() {
        let key = pair();
        let public = key.public_key().as_ref().to_vec();
        let good = bundle(&key, None).await;
        // The padding after `a.jsonl` (8 bytes of data in a 512-byte block).
        let mut padded = good.clone();
        padded[512 + 100] = 1;
        assert_eq!(
            verify(&padded[..], &public).unwrap_err(),
            [Problem::PaddingChanged("a.jsonl".into())]
        );
        // A header field no reader would care about (the mode), checksum made good again.
        let mut header = tar::Header::from_byte_slice(&good[1024..1536]).clone();
        header.set_mode(0o600);
        header.set_cksum();
        let mut moded = good.clone();
        moded[1024..1536].copy_from_slice(header.as_bytes());
        assert_eq!(
            verify(&moded[..], &public).unwrap_err(),
            [Problem::HeaderChanged("b.bin".into())]
        );
        // Bytes after the end, and an archive cut short.
        let mut longer = good.clone();
        longer.extend_from_slice(b"more");
        assert_eq!(
            verify(&longer[..], &public).unwrap_err(),
            [Problem::AfterEnd]
        );
        let cut = &good[..good.len() - 512];
        assert_eq!(verify(cut, &public).unwrap_err(), [Problem::Truncated]);
    }
}
