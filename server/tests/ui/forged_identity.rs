//! Only the token verifier makes an identity.

use workroom_protocol::Role;
use workroom_server::auth::Identity;

fn main() {
    let _ = Identity {
        user: "u1".into(),
        role: Role::Member,
        account: None,
        jti: "j".into(),
        expires_at: u64::MAX,
        issued_at: 0,
        acts_for: None,
    };
}
