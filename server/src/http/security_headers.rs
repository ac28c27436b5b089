//! Headers every response carries, whatever route or error produced it: the server speaks
//! TLS only, so browsers are told to keep to it (HSTS); nothing is to be sniffed, framed,
//! cached or given a referrer. A handler that chose a header (a file download's own
//! `Cache-Control` or `Content-Security-Policy`) keeps its choice.

use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::Response;

/// Two years, the preload lists' minimum.
const HSTS: &str = "max-age=63072000";
/// API answers are data, never a document that could run or load anything.
const CSP: &str = "default-src 'none'; frame-ancestors 'none'";

pub(crate) async fn add(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (STRICT_TRANSPORT_SECURITY, HSTS),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (CACHE_CONTROL, "no-store"),
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
        (CONTENT_SECURITY_POLICY, CSP),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}
