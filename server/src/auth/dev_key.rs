//! The development signing key: a random 256-bit HS256 secret generated into
//! `<data_dir>/keys/dev-jwt.key` (mode 0600) on first run. `workroom token` signs with it, so
//! the server is usable alone. Production turns it off (`auth.dev_key = false`).

use crate::key_files::write_secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::path::{Path, PathBuf};
use workroom_protocol::{Claims, Role};

/// The `kid` of dev-key tokens.
pub(super) const DEV_KID: &str = "dev";

#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} does not hold a base64 key of at least 32 bytes")]
    Corrupt(PathBuf),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// The dev HS256 secret. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct DevKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for DevKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevKey(***)")
    }
}

impl DevKey {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("keys").join("dev-jwt.key")
    }

    /// Load the key, creating it when absent. Returns whether it was created.
    pub fn load_or_create(data_dir: &Path) -> Result<(DevKey, bool), DevKeyError> {
        let path = Self::path(data_dir);
        if path.exists() {
            return Ok((Self::load(data_dir)?, false));
        }
        let mut secret = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut secret)
            .map_err(|_| DevKeyError::Sign("no randomness".into()))?;
        write_secret(&path, STANDARD.encode(&secret).as_bytes())
            .map_err(|source| DevKeyError::Io { path, source })?;
        Ok((DevKey { secret }, true))
    }

    /// Load an existing key.
    pub fn load(data_dir: &Path) -> Result<DevKey, DevKeyError> {
        let path = Self::path(data_dir);
        let text = std::fs::read_to_string(&path).map_err(|source| DevKeyError::Io {
            path: path.clone(),
            source,
        })?;
        let secret = STANDARD
            .decode(text.trim())
            .map_err(|_| DevKeyError::Corrupt(path.clone()))?;
        if secret.len() < 32 {
            return Err(DevKeyError::Corrupt(path));
        }
        Ok(DevKey { secret })
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// Sign claims with this key (`alg: HS256`, `kid: dev`, `typ: JWT`).
    pub fn sign(&self, claims: &Claims) -> Result<String, DevKeyError> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(DEV_KID.to_string());
        let key =
            EncodingKey::from_secret(&self.secret).map_err(|e| DevKeyError::Sign(e.to_string()))?;
        jsonwebtoken::encode(&header, claims, &key).map_err(|e| DevKeyError::Sign(e.to_string()))
    }

    /// Build and sign a token valid for `ttl_secs` from `now` (Unix seconds, from the clock
    /// the server that will verify it reads).
    #[allow(clippy::too_many_arguments)]
    pub fn mint(
        &self,
        issuer: &str,
        audience: &str,
        sub: &str,
        role: Role,
        account: Option<&str>,
        acts_for: Option<&str>,
        ttl_secs: u64,
        now: u64,
    ) -> Result<String, DevKeyError> {
        let claims = Claims {
            sub: sub.to_string(),
            role,
            account: account.map(str::to_string),
            exp: now + ttl_secs,
            iat: now,
            nbf: Some(now),
            iss: issuer.to_string(),
            aud: audience.to_string(),
            jti: uuid::Uuid::now_v7().simple().to_string(),
            acts_for: acts_for.map(str::to_string),
        };
        self.sign(&claims)
    }
}
