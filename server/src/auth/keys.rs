//! The verification keys, each pinned to one algorithm, by `kid`: PEM files named in
//! `auth.keys`, a JWKS document (`auth.jwks_file`, RFC 7517), and the dev key when it is on.
//!
//! A JWKS key's algorithm is its `alg`, which must agree with its key type; without `alg`
//! it is the one algorithm we accept for that type (RSA → RS256, EC P-256 → ES256, OKP
//! Ed25519 → EdDSA). Symmetric (`oct`) keys, other curves and keys marked for encryption
//! are refused: a public key set must never hand out an HMAC secret, which would let
//! anyone who can read it mint tokens.

use super::dev_key::{DEV_KID, DevKey};
use crate::config::AuthConfig;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    #[error("auth: reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("auth.keys: {path} is not a {algorithm} public key in PEM: {reason}")]
    Key {
        path: PathBuf,
        algorithm: String,
        reason: String,
    },
    #[error("auth.jwks_file: {path}: {reason}")]
    Jwks { path: PathBuf, reason: String },
    #[error("auth: key id `{kid}` is given twice")]
    DuplicateKid { kid: String },
}

/// One key and the only algorithm tokens under its `kid` may use.
pub(super) struct PinnedKey {
    pub(super) algorithm: Algorithm,
    pub(super) key: DecodingKey,
    pub(super) validation: Validation,
}

/// The keys in force, and the bytes they were read from (to tell whether a reload found
/// anything new).
pub(super) struct KeySet {
    pub(super) keys: HashMap<String, PinnedKey>,
    pub(super) source: Vec<u8>,
}

fn read(path: &Path) -> Result<Vec<u8>, VerifierError> {
    std::fs::read(path).map_err(|source| VerifierError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl KeySet {
    /// Read every configured key.
    pub(super) fn load(
        config: &AuthConfig,
        dev_key: Option<&DevKey>,
    ) -> Result<KeySet, VerifierError> {
        let validation_for = |algorithm: Algorithm| {
            let mut v = Validation::new(algorithm);
            // Times are checked by the verifier against our clock, not the library's.
            v.validate_exp = false;
            v.validate_nbf = false;
            v.set_audience(&[&config.audience]);
            v.set_issuer(&[&config.issuer]);
            v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            v
        };
        let mut set = KeySet {
            keys: HashMap::new(),
            source: Vec::new(),
        };
        let mut add = |kid: String, algorithm: Algorithm, key: DecodingKey| {
            if set.keys.contains_key(&kid) {
                return Err(VerifierError::DuplicateKid { kid });
            }
            set.keys.insert(
                kid,
                PinnedKey {
                    algorithm,
                    key,
                    validation: validation_for(algorithm),
                },
            );
            Ok(())
        };
        if let Some(dev) = dev_key {
            let key = DecodingKey::from_secret(dev.secret()).map_err(|e| VerifierError::Key {
                path: PathBuf::from("dev key"),
                algorithm: "HS256".into(),
                reason: e.to_string(),
            })?;
            add(DEV_KID.to_string(), Algorithm::HS256, key)?;
        }
        let mut source = Vec::new();
        for entry in &config.keys {
            let pem = read(&entry.public_key_file)?;
            let (algorithm, key) = match entry.algorithm.as_str() {
                "RS256" => (Algorithm::RS256, DecodingKey::from_rsa_pem(&pem)),
                "ES256" => (Algorithm::ES256, DecodingKey::from_ec_pem(&pem)),
                _ => (Algorithm::EdDSA, DecodingKey::from_ed_pem(&pem)),
            };
            let key = key.map_err(|e| VerifierError::Key {
                path: entry.public_key_file.clone(),
                algorithm: entry.algorithm.clone(),
                reason: e.to_string(),
            })?;
            add(entry.kid.clone(), algorithm, key)?;
            source.extend_from_slice(entry.kid.as_bytes());
            source.extend_from_slice(&pem);
        }
        if let Some(path) = &config.jwks_file {
            let document = read(path)?;
            let jwks: JwkSet =
                serde_json::from_slice(&document).map_err(|e| VerifierError::Jwks {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            for jwk in &jwks.keys {
                let (kid, algorithm, key) =
                    from_jwk(jwk).map_err(|reason| VerifierError::Jwks {
                        path: path.clone(),
                        reason,
                    })?;
                add(kid, algorithm, key)?;
            }
            source.extend_from_slice(&document);
        }
        set.source = source;
        Ok(set)
    }
}

/// A JWKS entry as a pinned key, or why it cannot be one.
fn from_jwk(jwk: &Jwk) -> Result<(String, Algorithm, DecodingKey), String> {
    let kid = jwk
        .common
        .key_id
        .clone()
        .filter(|kid| !kid.is_empty())
        .ok_or("a key has no `kid`")?;
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return Err(format!("key `{kid}` is not for signatures (`use`)"));
    }
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err(format!(
                "key `{kid}` is a symmetric secret; a key set holds public keys only"
            ));
        }
        _ => {
            return Err(format!(
                "key `{kid}` is of a type or curve other than RSA, EC P-256 and Ed25519"
            ));
        }
    };
    let named = jwk.common.key_algorithm.map(|alg| match alg {
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
        _ => None,
    });
    if let Some(named) = named
        && named != Some(algorithm)
    {
        return Err(format!(
            "key `{kid}`: its `alg` is not RS256, ES256 or EdDSA, or does not fit its key type"
        ));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key `{kid}`: {e}"))?;
    Ok((kid, algorithm, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(json: serde_json::Value) -> Jwk {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_key_set_never_yields_a_secret_or_a_mismatched_algorithm() {
        let hmac = jwk(serde_json::json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}));
        assert!(from_jwk(&hmac).unwrap_err().contains("symmetric"));
        let ed = serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "kid": "e",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        });
        let (kid, algorithm, _) = from_jwk(&jwk(ed.clone())).unwrap();
        assert_eq!((kid.as_str(), algorithm), ("e", Algorithm::EdDSA));
        let mut confused = ed.clone();
        confused["alg"] = "RS256".into();
        assert!(from_jwk(&jwk(confused)).is_err());
        let mut no_kid = ed;
        no_kid.as_object_mut().unwrap().remove("kid");
        assert!(from_jwk(&jwk(no_kid)).is_err());
    }
}
