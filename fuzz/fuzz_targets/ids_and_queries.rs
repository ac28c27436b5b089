//! Identifiers, the field checks of both transports, and query strings. Nothing panics;
//! what is accepted obeys the documented rule (so a handler may rely on it); the HTTP
//! query decoders take any string; an analytics range that is accepted is whole past days
//! within the allowed span.
#![no_main]

use arbitrary::Arbitrary;
use axum::extract::Query;
use libfuzzer_sys::fuzz_target;
use workroom_protocol::{ClientMsgId, RoomId};
use workroom_server::service::validate::{check_email, check_id, check_prose, check_text};
use workroom_server::service::{AnalyticsQuery, AuditQuery, day_range};

#[derive(Debug, Arbitrary)]
enum Input {
    Id(String),
    ClientMsgId(String),
    Text(String, u16),
    Email(String),
    Prose(String, u8, u16),
    AuditQuery(String),
    AnalyticsQuery(String),
    Days {
        from: Option<Day>,
        until: Option<Day>,
        now_ms: i64,
        max_days: u16,
    },
}

/// A day as a client writes it: any text, or numbers that make a well-formed one (random
/// text seldom does), so the edges of the calendar are reached.
#[derive(Debug, Arbitrary)]
enum Day {
    Text(String),
    Parts(i16, u8, u8),
}

impl Day {
    fn text(&self) -> String {
        match self {
            Day::Text(text) => text.clone(),
            // Within the years, months and days a date can name, edges included.
            Day::Parts(year, month, day) => {
                format!("{:04}-{:02}-{:02}", year % 10_000, month % 13, day % 32)
            }
        }
    }
}

fn query<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    let uri: axum::http::Uri = format!("/q?{text}").parse().ok()?;
    Query::<T>::try_from_uri(&uri).ok().map(|Query(q)| q)
}

fuzz_target!(|input: Input| match input {
    Input::Id(text) => {
        let parsed = RoomId::try_from(text.as_str());
        assert_eq!(parsed.is_ok(), check_id("id", &text).is_ok());
        if let Ok(id) = parsed {
            assert!((1..=RoomId::MAX_LEN).contains(&id.as_str().len()));
            assert!(
                id.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            );
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<RoomId>(&json).unwrap(), id);
        }
    }
    Input::ClientMsgId(text) => {
        if let Ok(id) = ClientMsgId::try_from(text.clone()) {
            assert!((1..=ClientMsgId::MAX_LEN).contains(&id.as_str().len()));
            assert!(!id.as_str().chars().any(char::is_control));
        }
    }
    Input::Text(text, max) => {
        if check_text("f", &text, usize::from(max)).is_ok() {
            assert!(!text.trim().is_empty() && text.len() <= usize::from(max));
            assert!(!text.chars().any(char::is_control));
        }
    }
    Input::Email(text) => {
        if check_email("email", &text).is_ok() {
            let (local, domain) = text.split_once('@').expect("an @");
            assert!(!local.is_empty() && domain.contains('.') && text.len() <= 254);
            assert!(!text.contains(char::is_whitespace));
        }
    }
    Input::Prose(text, min_chars, max_bytes) => {
        let (min, max) = (usize::from(min_chars), usize::from(max_bytes));
        if check_prose("reason", &text, min, max).is_ok() {
            assert!(text.trim().chars().count() >= min && text.len() <= max);
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t')
            );
        }
    }
    Input::AuditQuery(text) => {
        let _ = query::<AuditQuery>(&text);
    }
    Input::AnalyticsQuery(text) => {
        if let Some(q) = query::<AnalyticsQuery>(&text) {
            let now = 1_796_083_200_000; // 2026-12-01T00:00:00Z
            let _ = day_range(q.from.as_deref(), q.until.as_deref(), now, 366);
        }
    }
    Input::Days {
        from,
        until,
        now_ms,
        max_days,
    } => {
        let (from, until) = (from.map(|d| d.text()), until.map(|d| d.text()));
        // A clock within the years a date can name (most i64 values lie far outside).
        let now_ms = now_ms % 253_402_300_799_000;
        if let Ok((first, last)) = day_range(
            from.as_deref(),
            until.as_deref(),
            now_ms,
            u64::from(max_days),
        ) {
            assert!(first <= last, "{first} after {last}");
            let days = (last - first).whole_days() + 1;
            assert!(days <= i64::from(max_days), "{days} days > {max_days}");
        }
    }
});
