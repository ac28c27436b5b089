//! Issue 16: the machine-readable API is served without a token, and what is served is what
//! is committed under `docs/` (the server's unit tests check the committed files against
//! the code; this checks the listener serves that same text).

use workroom_tests::TestServer;

#[tokio::test]
async fn the_api_description_is_served_without_a_token_and_matches_docs() {
    let server = TestServer::start().await;
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    for (path, file) in [
        ("/v1/openapi.json", "openapi.json"),
        ("/v1/schemas/frames.json", "schemas/frames.json"),
    ] {
        let response = server
            .http
            .inner
            .get(server.http.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{path}"
        );
        let served = response.text().await.unwrap();
        let committed = std::fs::read_to_string(docs.join(file)).unwrap();
        assert!(
            served == committed,
            "{path} differs from docs/{file}: run `cargo run -p workroom-server -- api-docs --out docs`"
        );
        let value: serde_json::Value = serde_json::from_str(&served).unwrap();
        assert!(value.is_object(), "{path}");
    }
}
