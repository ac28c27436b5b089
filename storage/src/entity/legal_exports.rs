//! A legal disclosure export: the request it serves, what it covers, and its bundle's state.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "legal_exports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub request_id: String,
    /// `room`, `user` or `account`.
    pub scope: String,
    pub target: String,
    /// Unix ms, inclusive; `None`: from the beginning.
    pub from_ms: Option<i64>,
    /// Unix ms, exclusive; `None`: up to the export's creation.
    pub until_ms: Option<i64>,
    /// `building`, `ready`, `failed` or `expired`.
    pub state: String,
    pub requested_by: String,
    pub created_at: i64,
    /// Last sign of life of the build: a build silent for long was interrupted.
    pub heartbeat_at: i64,
    pub finished_at: Option<i64>,
    pub object_key: Option<String>,
    /// Bytes of the bundle (the tar).
    pub size: Option<i64>,
    pub entries: Option<i64>,
    pub manifest_sha256: Option<String>,
    pub error: Option<String>,
    pub expires_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
