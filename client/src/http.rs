//! HTTPS calls with the same trust roots as the WebSocket client.

use std::sync::Arc;

/// A reqwest client trusting only the given roots.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pub base: String,
    pub inner: reqwest::Client,
}

impl HttpClient {
    pub fn new(base: &str, tls: Arc<rustls::ClientConfig>) -> Result<HttpClient, reqwest::Error> {
        let mut config = (*tls).clone();
        // reqwest is built without its http2 feature: offer HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let inner = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .build()?;
        Ok(HttpClient {
            base: base.trim_end_matches('/').to_string(),
            inner,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.inner.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.inner.post(self.url(path)).bearer_auth(token)
    }

    pub fn put(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.inner.put(self.url(path)).bearer_auth(token)
    }

    pub fn delete(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.inner.delete(self.url(path)).bearer_auth(token)
    }
}
