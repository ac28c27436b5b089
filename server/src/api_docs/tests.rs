use super::*;
use crate::router::ROUTES;
use serde_json::Value;
use std::collections::BTreeSet;
use workroom_protocol::ErrorCode;

/// The repository's `docs/`, where the generated files are committed.
fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

fn openapi_value() -> Value {
    serde_json::from_str(&openapi_json()).expect("the document is JSON")
}

#[test]
fn every_route_is_described() {
    let doc = openapi_value();
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in ROUTES {
        let operation = paths
            .get(*path)
            .and_then(|item| item.get(method.to_ascii_lowercase()));
        assert!(
            operation.is_some(),
            "{method} {path} is served but not described: add it to \
             server/src/api_docs/routes.rs `describe()` and run \
             `cargo run -p workroom-server -- api-docs --out docs`"
        );
        // axum's `{param}` is OpenAPI's `{param}`: every one is a required path parameter.
        let declared: Vec<&str> = operation.unwrap()["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| {
                        assert_eq!(p["required"], true, "{method} {path}");
                        p["name"].as_str().unwrap()
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            declared,
            routes::path_parameters(path),
            "{method} {path}: path parameters"
        );
    }
}

#[test]
fn nothing_is_described_that_is_not_served() {
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let mut described = BTreeSet::new();
    for doc in routes::describe() {
        let key = (doc.method.to_string(), doc.path.to_string());
        assert!(described.insert(key.clone()), "{key:?} is described twice");
        assert!(served.contains(&key), "{key:?} is described but not served");
        assert!(!doc.roles().is_empty(), "{key:?} names no policy act");
    }
}

#[test]
fn every_reference_resolves() {
    fn walk(value: &Value, refs: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    refs.insert(r.clone());
                }
                map.values().for_each(|v| walk(v, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    for (doc, prefix) in [(openapi_value(), "#/"), (frame_schemas(), "#/")] {
        let mut refs = BTreeSet::new();
        walk(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let pointer = r
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{r}: only local references"));
            assert!(
                doc.pointer(&format!("/{pointer}")).is_some(),
                "{r} does not resolve"
            );
        }
    }
}

#[test]
fn the_document_is_openapi_3_1_with_bearer_auth_and_the_error_codes() {
    let doc = openapi_value();
    assert_eq!(doc["openapi"], "3.1.0");
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    // The error body is `{"code","message"}` (protocol/src/error.rs), the codes SPEC's.
    let body = &doc["components"]["schemas"]["ErrorBody"];
    let required: BTreeSet<&str> = body["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["code", "message"]));
    let codes: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the codes are an enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let spec = [
        "unauthorized",
        "forbidden",
        "not_found",
        "invalid",
        "too_large",
        "rate_limited",
        "conflict",
        "unavailable",
        "internal",
    ];
    assert_eq!(codes, BTreeSet::from(spec));
    let all: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(all, BTreeSet::from(spec));
    // Every operation answers errors with the shared error response.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(
                op["responses"]["default"]["$ref"], "#/components/responses/Error",
                "{method} {path}"
            );
        }
    }
}

#[test]
fn roles_and_security_follow_the_policy() {
    let doc = openapi_value();
    let op = |method: &str, path: &str| doc["paths"][path][method].clone();
    // A member route needs the bearer token and says who may call it.
    let rooms = op("get", "/v1/rooms");
    assert_eq!(rooms["security"], serde_json::json!([{"bearer": []}]));
    assert_eq!(rooms["x-workroom-roles"], serde_json::json!(["member"]));
    // Public routes take none; the upgrade takes a token or a first `auth` frame.
    for path in [
        "/healthz",
        "/v1/legal/public-key",
        OPENAPI_ROUTE,
        FRAMES_ROUTE,
    ] {
        assert_eq!(
            op("get", path)["security"],
            serde_json::json!([{}]),
            "{path}"
        );
    }
    let ws = op("get", "/v1/ws");
    assert_eq!(ws["security"], serde_json::json!([{"bearer": []}, {}]));
    assert!(ws["responses"].get("101").is_some(), "an upgrade: {ws}");
    // A request body that is a protocol type refers to it.
    assert_eq!(
        op("post", "/v1/marketplace/bids/{bid_id}/accept")["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/BidAccepted"
    );
}

fn frame_types(doc: &Value, def: &str) -> BTreeSet<String> {
    let variants = doc["$defs"][def]["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("{def} is a oneOf of its variants"));
    variants
        .iter()
        .map(|variant| {
            // A variant is an object whose `type` is a constant, possibly through an
            // `allOf`/`$ref` for newtype variants (`message`).
            let tag = &variant["properties"]["type"];
            tag.get("const")
                .or_else(|| tag["enum"].get(0))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{def} variant without a `type` constant: {variant}"))
                .to_string()
        })
        .collect()
}

#[test]
fn every_frame_type_has_a_schema() {
    let doc = frame_schemas();
    let client: BTreeSet<String> = ClientFrame::kinds().map(str::to_string).collect();
    assert_eq!(frame_types(&doc, "ClientFrame"), client);
    let server: BTreeSet<String> = ServerFrame::kinds().map(str::to_string).collect();
    assert_eq!(frame_types(&doc, "ServerFrame"), server);
    assert!(client.contains("send") && server.contains("message"));
}

#[test]
fn the_frame_schemas_match_the_wire() {
    let doc = frame_schemas();
    // Client frames refuse unknown fields, as the decoder does; the SPEC `send` is one.
    let send = doc["$defs"]["ClientFrame"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["properties"]["type"]["const"] == "send")
        .unwrap()
        .clone();
    assert_eq!(send["additionalProperties"], false);
    let required: BTreeSet<&str> = send["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        required,
        BTreeSet::from(["type", "room", "client_msg_id", "body"])
    );
    assert_eq!(doc["$defs"]["RoomId"]["maxLength"], 64);
}

/// `UPDATE_API_DOCS=1 cargo test -p workroom-server --lib api_docs` rewrites the files, like
/// `workroom api-docs --out docs`.
#[test]
fn the_committed_files_are_what_the_code_generates() {
    let dir = docs_dir();
    if std::env::var_os("UPDATE_API_DOCS").is_some() {
        write(&dir).expect("write docs");
    }
    for (name, generated) in files() {
        let path = dir.join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} differs from what the code generates: run \
             `cargo run -p workroom-server -- api-docs --out docs` (or this test with \
             UPDATE_API_DOCS=1) and commit the result",
            path.display()
        );
    }
}

#[test]
fn the_output_is_canonical() {
    let text = canonical(&serde_json::json!({"b": 1, "a": {"d": [1, {"z": 0, "y": 1}], "c": 2}}));
    assert_eq!(
        text,
        "{\n  \"a\": {\n    \"c\": 2,\n    \"d\": [\n      1,\n      {\n        \"y\": 1,\n        \"z\": 0\n      }\n    ]\n  },\n  \"b\": 1\n}\n"
    );
}
