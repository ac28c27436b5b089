//! Checking the chain: every entry in seq order, then every checkpoint. Streaming: entries
//! are fed one page at a time and only the hashes at checkpoint seqs are kept.

use super::{AuditCheckpoint, AuditEntry, GENESIS, checkpoint_message, entry_hash};
use std::collections::HashMap;

/// The first thing found wrong, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFault {
    #[error("entry {seq} is missing (removed)")]
    Missing { seq: u64 },
    #[error("entry {seq} was altered (its hash does not match its contents)")]
    Altered { seq: u64 },
    #[error(
        "entry {seq} does not follow entry {}: the chain was reordered, or an entry before it was altered or removed",
        seq - 1
    )]
    BrokenLink { seq: u64 },
    #[error(
        "checkpoint at entry {seq} does not match the chain: entries up to {seq} were rewritten"
    )]
    CheckpointMismatch { seq: u64 },
    #[error("checkpoint at entry {seq} has an invalid signature (key `{key_id}`)")]
    BadSignature { seq: u64, key_id: String },
    #[error(
        "the chain ends at entry {last} but a checkpoint covers entry {seq}: entries after {last} were removed"
    )]
    Truncated { seq: u64, last: u64 },
}

/// What a successful verification covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainReport {
    pub entries: u64,
    pub checkpoints: u64,
    /// Entries after the last checkpoint: intact as a chain, but a truncation of them would
    /// not be detectable until the next checkpoint.
    pub unanchored: u64,
}

/// Feeds entries in seq order; then [`verify_chain`] checks the checkpoints.
#[derive(Debug)]
pub struct ChainVerifier {
    expected: u64,
    prev: String,
    wanted: HashMap<u64, Option<String>>,
}

impl ChainVerifier {
    /// `checkpoints`: those that will be checked at the end (their seqs are remembered).
    pub fn new(checkpoints: &[AuditCheckpoint]) -> ChainVerifier {
        ChainVerifier {
            expected: 1,
            prev: GENESIS.to_string(),
            wanted: checkpoints.iter().map(|c| (c.seq, None)).collect(),
        }
    }

    /// The next entry in seq order.
    pub fn feed(&mut self, entry: &AuditEntry) -> Result<(), ChainFault> {
        if entry.seq != self.expected {
            return Err(ChainFault::Missing { seq: self.expected });
        }
        if entry.prev_hash != self.prev {
            return Err(ChainFault::BrokenLink { seq: entry.seq });
        }
        if entry_hash(entry) != entry.hash {
            return Err(ChainFault::Altered { seq: entry.seq });
        }
        if let Some(slot) = self.wanted.get_mut(&entry.seq) {
            *slot = Some(entry.hash.clone());
        }
        self.prev = entry.hash.clone();
        self.expected += 1;
        Ok(())
    }
}

/// Finish: every checkpoint must be validly signed (`signature_ok`) and name a hash the
/// chain has at its seq.
pub fn verify_chain(
    verifier: ChainVerifier,
    checkpoints: &[AuditCheckpoint],
    signature_ok: impl Fn(&AuditCheckpoint, &[u8]) -> bool,
) -> Result<ChainReport, ChainFault> {
    let last = verifier.expected - 1;
    let mut anchored = 0;
    for checkpoint in checkpoints {
        let message = checkpoint_message(
            checkpoint.seq,
            &checkpoint.hash,
            checkpoint.at,
            &checkpoint.key_id,
        );
        if !signature_ok(checkpoint, &message) {
            return Err(ChainFault::BadSignature {
                seq: checkpoint.seq,
                key_id: checkpoint.key_id.clone(),
            });
        }
        if checkpoint.seq > last {
            return Err(ChainFault::Truncated {
                seq: checkpoint.seq,
                last,
            });
        }
        match verifier.wanted.get(&checkpoint.seq) {
            Some(Some(hash)) if *hash == checkpoint.hash => {}
            _ => {
                return Err(ChainFault::CheckpointMismatch {
                    seq: checkpoint.seq,
                });
            }
        }
        anchored = anchored.max(checkpoint.seq);
    }
    Ok(ChainReport {
        entries: last,
        checkpoints: checkpoints.len() as u64,
        unanchored: last - anchored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let mut e = AuditEntry {
                    seq,
                    at: 1000 + seq as i64,
                    actor: "svc".into(),
                    actor_role: "service".into(),
                    action: "room.opened".into(),
                    target: format!("room:r{seq}"),
                    purpose: "participation".into(),
                    case_id: None,
                    request_id: None,
                    details: "{}".into(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = entry_hash(&e);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn checkpoint(entries: &[AuditEntry], seq: u64) -> AuditCheckpoint {
        AuditCheckpoint {
            seq,
            hash: entries[(seq - 1) as usize].hash.clone(),
            at: 5,
            key_id: "k".into(),
            signature: "ok".into(),
        }
    }

    fn run(entries: &[AuditEntry], cps: &[AuditCheckpoint]) -> Result<ChainReport, ChainFault> {
        let mut v = ChainVerifier::new(cps);
        for e in entries {
            v.feed(e)?;
        }
        verify_chain(v, cps, |c, _| c.signature == "ok")
    }

    #[test]
    fn an_intact_chain_verifies() {
        let entries = chain(10);
        let cps = [checkpoint(&entries, 5), checkpoint(&entries, 8)];
        let report = run(&entries, &cps).unwrap();
        assert_eq!(
            (report.entries, report.checkpoints, report.unanchored),
            (10, 2, 2)
        );
    }

    #[test]
    fn each_kind_of_tampering_names_the_first_bad_entry() {
        let entries = chain(10);
        let cps = [checkpoint(&entries, 9)];

        let mut altered = entries.clone();
        altered[3].actor = "someone else".into();
        assert_eq!(run(&altered, &cps), Err(ChainFault::Altered { seq: 4 }));

        // Altered and re-hashed: the next link breaks.
        let mut rehashed = entries.clone();
        rehashed[3].actor = "someone else".into();
        rehashed[3].hash = entry_hash(&rehashed[3]);
        assert_eq!(run(&rehashed, &cps), Err(ChainFault::BrokenLink { seq: 5 }));

        let mut removed = entries.clone();
        removed.remove(6);
        assert_eq!(run(&removed, &cps), Err(ChainFault::Missing { seq: 7 }));

        let mut swapped = entries.clone();
        swapped.swap(2, 3);
        swapped[2].seq = 3;
        swapped[3].seq = 4;
        assert_eq!(run(&swapped, &cps), Err(ChainFault::BrokenLink { seq: 3 }));

        assert_eq!(
            run(&entries[..7], &cps),
            Err(ChainFault::Truncated { seq: 9, last: 7 })
        );

        let mut forged = cps.clone();
        forged[0].signature = "forged".into();
        assert!(matches!(
            run(&entries, &forged),
            Err(ChainFault::BadSignature { seq: 9, .. })
        ));
    }

    #[test]
    fn a_rewritten_chain_is_caught_by_its_checkpoint() {
        let entries = chain(6);
        let cps = [checkpoint(&entries, 6)];
        // Rewrite everything from entry 2 on, consistently: only the signed head knows.
        let mut rewritten = entries.clone();
        rewritten[1].actor = "x".into();
        for i in 1..rewritten.len() {
            rewritten[i].prev_hash = rewritten[i - 1].hash.clone();
            rewritten[i].hash = entry_hash(&rewritten[i]);
        }
        assert_eq!(
            run(&rewritten, &cps),
            Err(ChainFault::CheckpointMismatch { seq: 6 })
        );
    }
}
