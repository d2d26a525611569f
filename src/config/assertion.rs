//! `[identity_assertion]`: the signed identity assertion routes send upstream
//! (`assertion_audience`), and its keys.

use std::path::PathBuf;

use super::*;

/// The signing algorithm of keys Gatehouse makes (`key_dir`); a `key_file` has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlgorithm {
    EdDSA,
    ES256,
    RS256,
}

/// Where the signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssertionKeys {
    /// One fixed PKCS#8 key.
    File(PathBuf),
    /// Keys Gatehouse makes and persists there, a new one every `rotate_every`.
    Dir {
        path: PathBuf,
        rotate_every: Duration,
    },
}

/// The identity assertion.
#[derive(Debug, Clone)]
pub struct AssertionConfig {
    pub header: HeaderName,
    pub algorithm: AssertionAlgorithm,
    /// `iss`.
    pub issuer: String,
    /// `exp - iat`.
    pub lifetime: Duration,
    pub keys: AssertionKeys,
    /// Also serve the JWKS at `/.well-known/jwks.json` on the proxy listener.
    pub serve_jwks_on_proxy: bool,
}

pub(super) fn assertion(
    a: &file::IdentityAssertionSection,
) -> Result<Option<AssertionConfig>, ConfigError> {
    if !a.enabled {
        return Ok(None);
    }
    let algorithm = match a.algorithm.as_str() {
        "EdDSA" => AssertionAlgorithm::EdDSA,
        "ES256" => AssertionAlgorithm::ES256,
        "RS256" => AssertionAlgorithm::RS256,
        other => {
            return Err(ConfigError::new(
                "identity_assertion.algorithm",
                format!("`{other}` is not one of EdDSA, ES256, RS256"),
            ))
        }
    };
    let keys = match (&a.key_file, &a.key_dir) {
        (Some(file), None) => AssertionKeys::File(file.into()),
        (None, Some(dir)) => AssertionKeys::Dir {
            path: dir.into(),
            rotate_every: nonzero(
                "identity_assertion.rotate_every",
                duration("identity_assertion.rotate_every", &a.rotate_every)?,
            )?,
        },
        _ => {
            return Err(ConfigError::new(
                "identity_assertion.key_dir",
                "set key_dir (keys made, persisted and rotated there) or key_file (one PKCS#8 \
                 key), not both",
            ))
        }
    };
    if algorithm == AssertionAlgorithm::RS256 && matches!(keys, AssertionKeys::Dir { .. }) {
        return Err(ConfigError::new(
            "identity_assertion.algorithm",
            "RS256 keys are not made by Gatehouse: give one in key_file",
        ));
    }
    let lifetime = nonzero(
        "identity_assertion.lifetime",
        duration("identity_assertion.lifetime", &a.lifetime)?,
    )?;
    if lifetime < Duration::from_secs(2) {
        return Err(ConfigError::new(
            "identity_assertion.lifetime",
            "at least 2s: tokens are reused for half their lifetime",
        ));
    }
    Ok(Some(AssertionConfig {
        header: header_name("identity_assertion.header", &a.header)?,
        algorithm,
        issuer: a.issuer.clone(),
        lifetime,
        keys,
        serve_jwks_on_proxy: a.serve_jwks_on_proxy,
    }))
}
