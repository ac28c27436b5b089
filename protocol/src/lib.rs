//! Workroom's wire contract: the WebSocket frames, the HTTP bodies, the JWT claims and the
//! stable error codes that independent clients are written against.
//!
//! This crate does no I/O and depends on little but serde, so the server, the Rust client
//! and the load tool all speak exactly the same types. Its types also derive
//! `utoipa::ToSchema` and `schemars::JsonSchema`: the server generates the OpenAPI document
//! and the frames' JSON Schema from them (`docs/openapi.json`, `docs/schemas/frames.json`). `docs/protocol.md` is its prose twin:
//! a change here is a change there.

pub mod analytics;
pub mod claims;
pub mod contacts;
pub mod decode;
pub mod error;
pub mod frames;
pub mod http;
pub mod ids;
pub mod legal;
pub mod lifecycle;
pub mod moderation;
pub mod purpose;
pub mod tracker;

pub use claims::{Claims, Role};
pub use decode::FrameError;
pub use error::{ErrorBody, ErrorCode};
pub use frames::{ClientFrame, ServerFrame};
pub use ids::{ClientMsgId, IdError, RoomId};
pub use purpose::Purpose;
