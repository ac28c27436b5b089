//! Making a bypass of the policy visible, at run time, for every route and frame.
//!
//! Each HTTP request and each WebSocket frame is handled inside a task-local scope holding
//! one flag; [`super::decide`] sets it when it allows an act (a refusal leaves it clear, so
//! ignoring one and answering anyway trips the guard). The HTTP middleware is
//! `http::policy_guard`; the session checks the flag after each frame. When a route answers with success, or a frame
//! handler returns, and the flag is still clear, the handler never asked the policy: the
//! answer is replaced by an `internal` error, the bypass is logged and counted in
//! `workroom_policy_bypass_total`. Refusals before the policy was asked (a bad token, a
//! malformed body) are fine: deny by default needs no decision.
//!
//! The e2e test `policy::every_route_and_frame_goes_through_the_policy` calls every route and
//! every frame type with valid requests and fails if any of them trips this guard.

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static CONSULTED: Cell<bool>;
}

/// Called by [`super::decide`]. Outside a guarded scope (unit tests, background tasks) it
/// does nothing.
pub(super) fn consulted() {
    let _ = CONSULTED.try_with(|flag| flag.set(true));
}

/// Run `work` in a fresh scope; returns its output and whether the policy was asked.
pub async fn scoped<F: Future>(work: F) -> (F::Output, bool) {
    CONSULTED
        .scope(Cell::new(false), async move {
            let output = work.await;
            let asked = CONSULTED.with(Cell::get);
            (output, asked)
        })
        .await
}

/// Log and count a handler that did not ask the policy.
pub fn report_bypass(what: &str) {
    tracing::error!(
        handler = what,
        "policy bypass: a handler answered without a decision"
    );
    metrics::counter!("workroom_policy_bypass_total").increment(1);
}

/// The message clients see when the guard fires.
pub const BYPASS_MESSAGE: &str = "internal error: the policy was not consulted";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scopes_do_not_leak_into_each_other() {
        let ((), asked) = scoped(async {
            consulted();
        })
        .await;
        assert!(asked);
        let ((), asked) = scoped(async {}).await;
        assert!(!asked);
    }
}
