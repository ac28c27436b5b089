//! Why data is collected and why it is read (C5). Every stored item records the purpose it
//! was collected for; every read names the purpose it serves; the server's policy module
//! decides whether the two are compatible. The names are part of the wire contract: they
//! appear in audit entries and in `docs/compliance.md`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Workroom communication between the parties of a contract (messages, files, members).
    Participation,
    /// Trust-and-safety review under a grant or a report.
    Moderation,
    /// Tracker data kept to guarantee payment for tracked work.
    PaymentGuarantee,
    /// An export for a named legal request.
    LegalDisclosure,
    /// Aggregate counts without identifiers.
    AnonymousAnalytics,
    /// Keeping the service secure (pseudonymised connection logs).
    Security,
    /// Verifying that the audit trail is complete and unaltered.
    Oversight,
    /// Running the service (health, readiness, metrics).
    Operations,
}

impl Purpose {
    pub const ALL: &'static [Purpose] = &[
        Purpose::Participation,
        Purpose::Moderation,
        Purpose::PaymentGuarantee,
        Purpose::LegalDisclosure,
        Purpose::AnonymousAnalytics,
        Purpose::Security,
        Purpose::Oversight,
        Purpose::Operations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Participation => "participation",
            Purpose::Moderation => "moderation",
            Purpose::PaymentGuarantee => "payment_guarantee",
            Purpose::LegalDisclosure => "legal_disclosure",
            Purpose::AnonymousAnalytics => "anonymous_analytics",
            Purpose::Security => "security",
            Purpose::Oversight => "oversight",
            Purpose::Operations => "operations",
        }
    }

    pub fn parse(value: &str) -> Option<Purpose> {
        Purpose::ALL.iter().copied().find(|p| p.as_str() == value)
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(*p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::Value::String(p.as_str().into())
            );
        }
        assert_eq!(Purpose::parse("marketing"), None);
    }
}
