//! The web client (C17): one page and its scripts and styles, embedded in the binary at
//! build time (`server/web/`, no build step) and served over the same TLS listener:
//! `GET /` is the page, `GET /app/{file}` one asset of the fixed table below (nothing else:
//! the name is looked up, never joined to a path). Each answer carries the page's own strict
//! CSP (no inline script or style, nothing from another origin), an `ETag` from the bytes
//! and `Cache-Control: no-cache`, so a browser revalidates and a new binary's page is
//! picked up at once. The page holds its token in memory only and speaks the public API.

use super::error::ApiError;
use crate::app::AppState;
use crate::fnv::fnv1a;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use workroom_protocol::ErrorCode;

/// The page's CSP: its own scripts, styles and images (and `blob:` images: screenshots are
/// fetched with the token and shown from memory), connections to its own origin only, no
/// forms posted anywhere, never framed.
pub(crate) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; \
     base-uri 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
    etag: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// `"<16 hex digits>"`, made at compile time.
const fn etag(body: &str) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = fnv1a(body.as_bytes());
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((hash >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

macro_rules! assets {
    ($($name:literal => $path:literal, $type:expr;)*) => {
        &[$(Asset {
            name: $name,
            content_type: $type,
            body: include_str!(concat!("../../web/", $path)),
            etag: {
                const TAG: [u8; 18] = etag(include_str!(concat!("../../web/", $path)));
                match std::str::from_utf8(&TAG) {
                    Ok(tag) => tag,
                    Err(_) => panic!("an ETag is ASCII"),
                }
            },
        },)*]
    };
}

/// Every file the page may load. `index.html` is served at `/` only.
const ASSETS: &[Asset] = assets! {
    "index.html" => "index.html", HTML;
    "app.css" => "app.css", CSS;
    "icon.svg" => "icon.svg", SVG;
    "main.js" => "js/main.js", JS;
    "api.js" => "js/api.js", JS;
    "socket.js" => "js/socket.js", JS;
    "dom.js" => "js/dom.js", JS;
    "signin.js" => "js/signin.js", JS;
    "member.js" => "js/member.js", JS;
    "rooms.js" => "js/rooms.js", JS;
    "timeline.js" => "js/timeline.js", JS;
    "composer.js" => "js/composer.js", JS;
    "files.js" => "js/files.js", JS;
    "members.js" => "js/members.js", JS;
    "contacts.js" => "js/contacts.js", JS;
    "tracker.js" => "js/tracker.js", JS;
    "moderation.js" => "js/moderation.js", JS;
    "audit.js" => "js/audit.js", JS;
};

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// `GET /`: the page.
pub(crate) async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(asset) => serve(&state, asset, &headers),
        None => ApiError::new(ErrorCode::NotFound, "no such route").into_response(),
    }
}

/// `GET /app/{file}`: one of the page's scripts, styles or images.
pub(crate) async fn asset(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    match find(&file).filter(|asset| asset.name != "index.html") {
        Some(asset) => serve(&state, asset, &headers),
        None => ApiError::new(ErrorCode::NotFound, "no such route").into_response(),
    }
}

fn serve(state: &AppState, asset: &'static Asset, headers: &HeaderMap) -> Response {
    state.service.serve_page();
    let common = [
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (ETAG, HeaderValue::from_static(asset.etag)),
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP)),
    ];
    let fresh = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == asset.etag
        });
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(CONTENT_TYPE, HeaderValue::from_static(asset.content_type))],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_distinct_name_and_a_quoted_etag() {
        for (i, asset) in ASSETS.iter().enumerate() {
            assert!(asset.etag.starts_with('"') && asset.etag.ends_with('"'));
            assert_eq!(asset.etag.len(), 18);
            assert!(ASSETS[..i].iter().all(|other| other.name != asset.name));
        }
        assert_ne!(etag("a"), etag("b"));
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_and_loads_only_listed_files() {
        for asset in ASSETS
            .iter()
            .filter(|a| a.content_type == HTML || a.content_type == JS)
        {
            let body = asset.body;
            for forbidden in [" style=", " onclick=", " onload=", "javascript:", "http://"] {
                assert!(
                    !body.contains(forbidden),
                    "{} has {forbidden:?}",
                    asset.name
                );
            }
            // Every module import names a file of the table.
            for line in body
                .lines()
                .filter(|l| l.trim_start().starts_with("import "))
            {
                let Some(start) = line.find("'./") else {
                    continue;
                };
                let name = &line[start + 3..];
                let name = &name[..name.find('\'').unwrap_or(name.len())];
                assert!(find(name).is_some(), "{} imports {name}", asset.name);
            }
        }
        let page = find("index.html").unwrap().body;
        assert!(!page.contains("<script>"), "no inline script");
        assert!(!page.contains("<style"), "no inline style");
    }
}
