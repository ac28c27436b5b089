//! One WSS connection speaking protocol frames.

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use workroom_protocol::{ClientFrame, ServerFrame};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("timed out waiting for a frame")]
    Timeout,
    #[error("the server closed the connection: {0:?}")]
    Closed(Option<(u16, String)>),
    #[error("undecodable frame {text}: {error}")]
    Decode { text: String, error: String },
}

/// How to connect.
#[derive(Clone)]
pub struct ConnectOptions {
    /// `wss://host:port/v1/ws`.
    pub url: String,
    pub tls: Arc<rustls::ClientConfig>,
    /// Sent as `Authorization: Bearer` on the upgrade; `None` to authenticate with a frame.
    pub token: Option<String>,
    /// Sent as `Origin`, to act like a browser.
    pub origin: Option<String>,
}

/// An open connection. Frames can be sent and received from different tasks after
/// [`Connection::split`].
pub struct Connection {
    sink: SplitSink<Socket, Message>,
    stream: SplitStream<Socket>,
}

impl Connection {
    pub async fn connect(options: &ConnectOptions) -> Result<Connection, WsError> {
        let mut request = options.url.as_str().into_client_request()?;
        if let Some(token) = &options.token
            && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
        {
            request.headers_mut().insert("authorization", value);
        }
        if let Some(origin) = &options.origin
            && let Ok(value) = HeaderValue::from_str(origin)
        {
            request.headers_mut().insert("origin", value);
        }
        let config = WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .write_buffer_size(0)
            .max_message_size(Some(1 << 20));
        let (socket, _response) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            true,
            Some(Connector::Rustls(options.tls.clone())),
        )
        .await?;
        let (sink, stream) = socket.split();
        Ok(Connection { sink, stream })
    }

    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), WsError> {
        let text = serde_json::to_string(frame).map_err(|e| WsError::Decode {
            text: String::new(),
            error: e.to_string(),
        })?;
        self.send_text(&text).await
    }

    /// Send raw text (tests use it for malformed frames).
    pub async fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        self.sink.send(Message::text(text)).await?;
        Ok(())
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), WsError> {
        self.sink.send(Message::Binary(Bytes::from(bytes))).await?;
        Ok(())
    }

    /// The next protocol frame, skipping pings; `Closed` with the close code when closed.
    pub async fn next(&mut self, timeout: Duration) -> Result<ServerFrame, WsError> {
        loop {
            let message = tokio::time::timeout(timeout, self.stream.next())
                .await
                .map_err(|_| WsError::Timeout)?;
            match message {
                None => return Err(WsError::Closed(None)),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(text.as_str()).map_err(|e| WsError::Decode {
                        text: text.to_string(),
                        error: e.to_string(),
                    });
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(WsError::Closed(
                        frame.map(|f: CloseFrame| (u16::from(f.code), f.reason.to_string())),
                    ));
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Close politely.
    pub async fn close(mut self) {
        let _ = self.sink.send(Message::Close(None)).await;
    }

    pub fn split(self) -> (SplitSink<Socket, Message>, SplitStream<Socket>) {
        (self.sink, self.stream)
    }
}
