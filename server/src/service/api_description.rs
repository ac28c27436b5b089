//! The machine-readable API description (`crate::api_docs`): the interface, no data, the
//! same for everyone. Serving it is still an act the policy allows, like a probe.

use super::Service;
use crate::policy::{self, Act, Caller, Resource};
use workroom_protocol::Purpose;

impl Service {
    /// Allow reading the OpenAPI document or the frame schemas. Asked without a token,
    /// whatever the request carried: the description is public so that independent clients
    /// can be written against it.
    pub fn describe_api(&self) {
        let allowed = policy::decide(
            Caller::Anonymous,
            Act::ReadApiDescription,
            Purpose::Operations,
            Resource::Nothing,
        );
        debug_assert!(allowed.is_ok(), "the API description is open to anyone");
    }
}
