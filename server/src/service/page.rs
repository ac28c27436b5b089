//! The web client's page (C17): public code, the same for everyone, carrying no data. The
//! transport (`http::web`) holds the embedded files; serving one is still an act the policy
//! allows, like a probe.

use super::Service;
use crate::policy::{self, Act, Caller, Resource};
use workroom_protocol::Purpose;

impl Service {
    /// Allow fetching the page or one of its assets. Asked without a token: a browser's
    /// navigation carries none, and the page's code is not personal.
    pub fn serve_page(&self) {
        let allowed = policy::decide(
            Caller::Anonymous,
            Act::ServePage,
            Purpose::Operations,
            Resource::Nothing,
        );
        debug_assert!(allowed.is_ok(), "the page is open to anyone");
    }
}
