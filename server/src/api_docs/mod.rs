//! The machine-readable API (issue 16): an OpenAPI 3.1 document for every HTTP route and a
//! JSON Schema (2020-12) for every WebSocket frame, both generated from the protocol crate's
//! types (`utoipa::ToSchema` and `schemars::JsonSchema` derives).
//!
//! - The routes are described in one table, [`routes::describe`], next to the router's one
//!   table ([`crate::router::ROUTES`]): method, path, the policy acts it performs (the roles
//!   stated for it are read from the policy's own table), its query parameters, request body
//!   and responses. A test fails when a route of `ROUTES` is missing from the document, or
//!   the document describes a route that is not served.
//! - The frames are one schema whose `$defs` hold `ClientFrame` (what a client sends, as the
//!   server reads it) and `ServerFrame` (what the server sends); a test fails when a frame
//!   type is missing.
//! - Both are served (`GET /v1/openapi.json`, `GET /v1/schemas/frames.json`, no token) and
//!   committed as `docs/openapi.json` and `docs/schemas/frames.json`, written by
//!   `workroom api-docs --out docs`; a test fails when the committed files differ from what
//!   the code generates.
//!
//! The JSON is canonical (object keys sorted, two-space indent, final newline), so the
//! committed files are stable whatever `serde_json` features the build unified.

mod routes;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use utoipa::openapi::OpenApi;
use workroom_protocol::{ClientFrame, ServerFrame};

/// Where the OpenAPI document goes, relative to the output directory (`docs/`).
pub const OPENAPI_FILE: &str = "openapi.json";
/// Where the frame schemas go, relative to the output directory (`docs/`).
pub const FRAMES_FILE: &str = "schemas/frames.json";

/// The served paths.
pub const OPENAPI_ROUTE: &str = "/v1/openapi.json";
pub const FRAMES_ROUTE: &str = "/v1/schemas/frames.json";

/// The OpenAPI 3.1 document of every HTTP route.
pub fn openapi() -> OpenApi {
    routes::openapi()
}

/// [`openapi`] as canonical JSON text.
pub fn openapi_json() -> String {
    let value = serde_json::to_value(openapi()).unwrap_or(serde_json::Value::Null);
    canonical(&value)
}

/// The JSON Schema of every WebSocket frame: one document whose `$defs` hold `ClientFrame`,
/// `ServerFrame` and the types they use; the document itself accepts either.
pub fn frame_schemas() -> serde_json::Value {
    use schemars::generate::SchemaSettings;
    // A client frame is what the server deserializes (fields with defaults are optional);
    // a server frame is what it serializes (fields skipped when empty are optional).
    let mut client = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let mut server = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let client_ref = client.subschema_for::<ClientFrame>();
    let server_ref = server.subschema_for::<ServerFrame>();
    let mut defs = client.take_definitions(true);
    for (name, schema) in server.take_definitions(true) {
        // Types both directions use (the ids) must read the same both ways, or the merged
        // `$defs` would describe one direction wrongly.
        if let Some(existing) = defs.get(&name) {
            assert_eq!(
                existing, &schema,
                "`{name}` differs between client and server frames: give it one schema"
            );
        }
        defs.insert(name, schema);
    }
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Workroom WebSocket frames",
        "description": concat!(
            "Every JSON text frame of `wss://HOST:PORT/v1/ws`, from the protocol crate's types. ",
            "Validate a frame a client sends against `#/$defs/ClientFrame` and one the server ",
            "sends against `#/$defs/ServerFrame`; the document itself accepts either. ",
            "Both are tagged by `type`. docs/protocol.md describes what each frame means."
        ),
        "anyOf": [client_ref, server_ref],
        "$defs": defs,
    })
}

/// [`frame_schemas`] as canonical JSON text.
pub fn frame_schemas_json() -> String {
    canonical(&frame_schemas())
}

/// Both documents, generated once and served from memory.
pub(crate) struct Served {
    pub(crate) openapi: String,
    pub(crate) frames: String,
}

pub(crate) fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| Served {
        openapi: openapi_json(),
        frames: frame_schemas_json(),
    })
}

/// Every generated file: its path relative to the output directory and its text.
pub fn files() -> Vec<(&'static str, String)> {
    vec![
        (OPENAPI_FILE, openapi_json()),
        (FRAMES_FILE, frame_schemas_json()),
    ]
}

/// Write [`files`] under `dir` (`docs/` in the repository); returns the paths written.
pub fn write(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (name, text) in files() {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

/// Pretty JSON with every object's keys sorted and a final newline.
fn canonical(value: &serde_json::Value) -> String {
    fn sorted(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for key in keys {
                    out.insert(key.clone(), sorted(&map[key]));
                }
                serde_json::Value::Object(out)
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sorted).collect())
            }
            other => other.clone(),
        }
    }
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    text.push('\n');
    text
}
