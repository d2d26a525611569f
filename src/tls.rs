//! TLS material read from PEM files: the listener's certificates (chosen by SNI, swapped for new
//! files without a restart) and what an HTTPS upstream is reached with (an extra CA, a client
//! certificate).
//!
//! Written here rather than taken from Pingora: Pingora's rustls listener reads one certificate
//! pair once, at start-up. Its `set_cert_resolver` hook takes any rustls resolver, so
//! [`ListenerCertificates`] is one: it holds every configured pair, picks one per handshake by
//! the client's SNI, and [`ListenerCertificates::reload`] replaces them all at once when the
//! files change. A handshake reads the current set; connections already open keep the
//! certificate they were made with.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

/// A certificate that expires sooner than this gets a warning (at start-up and from `check`).
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why a certificate, key or CA file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("{path}: the key is not one rustls can sign with (RSA, ECDSA P-256/P-384, Ed25519)")]
    UnsupportedKey { path: PathBuf },
    #[error("{key} is not the private key of {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("{path}: the certificate cannot be parsed")]
    Unparsable { path: PathBuf },
    #[error("{path}: the certificate expired at {not_after} (UTC); renew it")]
    Expired { path: PathBuf, not_after: String },
    #[error("{path}: the certificate is not valid before {not_before} (UTC)")]
    NotYetValid { path: PathBuf, not_before: String },
}

/// Where one certificate chain and its key are (`server.tls.certificates`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One loaded certificate: what a handshake serves, and what `check` reports.
#[derive(Debug)]
pub struct LoadedCertificate {
    pub files: CertificateFiles,
    /// DNS names it is valid for (subject alternative names, else the common name), lowercase.
    pub names: Vec<String>,
    /// Seconds since the Unix epoch.
    pub not_after: i64,
    key: Arc<CertifiedKey>,
}

impl LoadedCertificate {
    /// When the certificate expires, for people.
    pub fn expires(&self) -> String {
        format_utc(self.not_after)
    }

    /// Whether it expires within [`EXPIRY_WARNING`] of `now`.
    pub fn expires_soon(&self, now: SystemTime) -> bool {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.not_after - now < EXPIRY_WARNING.as_secs() as i64
    }
}

/// The certificate chain in `files.cert` with its key in `files.key`, checked: both parse, the
/// key belongs to the leaf certificate, and the leaf is valid at `now`.
pub fn load_certificate(
    files: &CertificateFiles,
    now: SystemTime,
) -> Result<LoadedCertificate, TlsError> {
    let chain = certificates_in(&files.cert)?;
    let key = private_key_in(&files.key)?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|_| {
        TlsError::UnsupportedKey {
            path: files.key.clone(),
        }
    })?;
    let facts = leaf_facts(&chain[0], &files.cert)?;
    let certified = CertifiedKey::new(chain, signer);
    if certified.keys_match().is_err() {
        return Err(TlsError::KeyMismatch {
            cert: files.cert.clone(),
            key: files.key.clone(),
        });
    }
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if facts.not_after < now {
        return Err(TlsError::Expired {
            path: files.cert.clone(),
            not_after: format_utc(facts.not_after),
        });
    }
    if facts.not_before > now {
        return Err(TlsError::NotYetValid {
            path: files.cert.clone(),
            not_before: format_utc(facts.not_before),
        });
    }
    Ok(LoadedCertificate {
        files: files.clone(),
        names: facts.names,
        not_after: facts.not_after,
        key: Arc::new(certified),
    })
}

/// Every certificate in the PEM file at `path`, in order (DER), or an error if there is none.
pub fn certificates_in(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: path.into() });
    }
    Ok(chain)
}

/// The first private key in the PEM file at `path`.
pub fn private_key_in(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::NoKey { path: path.into() })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.into(),
        source,
    })
}

/// What a certificate says about itself that Gatehouse uses.
struct LeafFacts {
    names: Vec<String>,
    not_before: i64,
    not_after: i64,
}

fn leaf_facts(der: &CertificateDer<'_>, path: &Path) -> Result<LeafFacts, TlsError> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|_| TlsError::Unparsable { path: path.into() })?;
    let mut names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok())
                .map(str::to_ascii_lowercase),
        );
    }
    Ok(LeafFacts {
        names,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// `2027-01-31 12:00:00`.
fn format_utc(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(
        || unix.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// The listener's certificates, loaded together: the first is served when the client's SNI
/// names none of them (or it sent none).
#[derive(Debug)]
pub struct CertificateSet {
    certificates: Vec<LoadedCertificate>,
    /// Exact names and `*.suffix` wildcards (stored as `.suffix`) to an index in `certificates`.
    by_name: HashMap<String, usize>,
    /// Hash of every file's bytes: a reload that finds the same bytes changes nothing.
    fingerprint: [u8; 32],
}

impl CertificateSet {
    /// Loads and checks every pair in `files` (at least one).
    pub fn load(files: &[CertificateFiles], now: SystemTime) -> Result<Self, TlsError> {
        let certificates = files
            .iter()
            .map(|f| load_certificate(f, now))
            .collect::<Result<Vec<_>, _>>()?;
        let mut by_name = HashMap::new();
        for (i, cert) in certificates.iter().enumerate() {
            for name in &cert.names {
                let key = name.strip_prefix('*').unwrap_or(name).to_string();
                // The first certificate listed for a name wins.
                by_name.entry(key).or_insert(i);
            }
        }
        Ok(Self {
            certificates,
            by_name,
            fingerprint: fingerprint(files),
        })
    }

    /// The loaded certificates, in configured order.
    pub fn certificates(&self) -> &[LoadedCertificate] {
        &self.certificates
    }

    /// The certificate for a handshake naming `server_name`: an exact name, else a wildcard
    /// covering its first label, else the first certificate.
    fn choose(&self, server_name: Option<&str>) -> &Arc<CertifiedKey> {
        let found = server_name.and_then(|name| {
            let name = name.to_ascii_lowercase();
            self.by_name.get(&name).copied().or_else(|| {
                let suffix = &name[name.find('.')?..];
                self.by_name.get(suffix).copied()
            })
        });
        &self.certificates[found.unwrap_or(0)].key
    }
}

/// SHA-256 over every file's bytes, in order (an unreadable file hashes as empty: the load that
/// follows reports it).
fn fingerprint(files: &[CertificateFiles]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for f in files {
        for path in [&f.cert, &f.key] {
            let bytes = std::fs::read(path).unwrap_or_default();
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(&bytes);
        }
    }
    hash.finalize().into()
}

/// What [`ListenerCertificates::reload`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// The files hold the same bytes as the served set.
    Unchanged,
    /// New files were loaded and are served to new connections.
    Swapped,
}

/// The listener's certificate resolver: the current [`CertificateSet`], replaceable at run time.
pub struct ListenerCertificates {
    files: Vec<CertificateFiles>,
    current: RwLock<Arc<CertificateSet>>,
}

impl ListenerCertificates {
    /// A resolver serving `set`, which was loaded from `files`.
    pub fn new(files: Vec<CertificateFiles>, set: CertificateSet) -> Self {
        Self {
            files,
            current: RwLock::new(Arc::new(set)),
        }
    }

    /// The set served now.
    pub fn current(&self) -> Arc<CertificateSet> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reads the files again; if they changed and all load, new handshakes get them. A broken
    /// file (half-written, mismatched, expired) leaves the served set as it was.
    pub fn reload(&self, now: SystemTime) -> Result<Reload, TlsError> {
        if fingerprint(&self.files) == self.current().fingerprint {
            return Ok(Reload::Unchanged);
        }
        let set = CertificateSet::load(&self.files, now)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(Reload::Swapped)
    }
}

impl fmt::Debug for ListenerCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerCertificates")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for ListenerCertificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let set = self.current.read().unwrap_or_else(|e| e.into_inner());
        Some(Arc::clone(set.choose(hello.server_name())))
    }
}

/// Keeps `certificates` in step with their files: checks them every `interval` and whenever
/// the process gets SIGHUP, until the future is dropped. A swap, or a file that cannot be used
/// (the old certificates stay), is logged.
pub async fn watch(certificates: Arc<ListenerCertificates>, interval: Duration) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "SIGHUP cannot be watched; certificates reload on the interval only");
            None
        }
    };
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            Some(()) = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            } => {}
        }
        match certificates.reload(SystemTime::now()) {
            Ok(Reload::Unchanged) => {}
            Ok(Reload::Swapped) => {
                for cert in certificates.current().certificates() {
                    tracing::info!(
                        file = %cert.files.cert.display(),
                        names = ?cert.names,
                        expires = %cert.expires(),
                        "listener certificate loaded; new connections get it"
                    );
                }
            }
            Err(error) => tracing::error!(
                %error,
                "listener certificates changed on disk but cannot be used; still serving the previous ones"
            ),
        }
    }
}

/// A client certificate (chain first, then its key) that an upstream asks for (mTLS), as DER.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub chain: Vec<Vec<u8>>,
    pub key: Vec<u8>,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("ClientIdentity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// The client identity in `files`, checked like a listener certificate (parses, key matches,
/// valid now).
pub fn load_client_identity(
    files: &CertificateFiles,
    now: SystemTime,
) -> Result<ClientIdentity, TlsError> {
    load_certificate(files, now)?;
    let chain = certificates_in(&files.cert)?
        .into_iter()
        .map(|c| c.as_ref().to_vec())
        .collect();
    let key = private_key_in(&files.key)?.secret_der().to_vec();
    Ok(ClientIdentity { chain, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_with(names: &[&[&str]]) -> CertificateSet {
        // `choose` looks only at `by_name`; the keys are stand-ins built from one real key.
        let mut by_name = HashMap::new();
        for (i, list) in names.iter().enumerate() {
            for name in *list {
                by_name
                    .entry(name.strip_prefix('*').unwrap_or(name).to_string())
                    .or_insert(i);
            }
        }
        let signer = rustls::crypto::ring::sign::any_supported_type(&test_key()).unwrap();
        let certificates = (0..names.len())
            .map(|i| LoadedCertificate {
                files: CertificateFiles {
                    cert: format!("{i}.pem").into(),
                    key: "k".into(),
                },
                names: Vec::new(),
                not_after: 0,
                key: Arc::new(CertifiedKey::new(
                    vec![CertificateDer::from(vec![i as u8])],
                    Arc::clone(&signer),
                )),
            })
            .collect();
        CertificateSet {
            certificates,
            by_name,
            fingerprint: [0; 32],
        }
    }

    /// An Ed25519 key (PKCS#8), generated for these tests only.
    fn test_key() -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(
            b"-----BEGIN PRIVATE KEY-----\n\
              MC4CAQAwBQYDK2VwBCIEIOH4E2yDhXSGqDEFuik4/5JAATnmtQT4oPWfBarTc80t\n\
              -----END PRIVATE KEY-----\n",
        )
        .unwrap()
    }

    fn chosen(set: &CertificateSet, sni: Option<&str>) -> u8 {
        set.choose(sni).cert[0].as_ref()[0]
    }

    #[test]
    fn sni_picks_exact_names_then_wildcards_then_the_first_certificate() {
        let set = set_with(&[&["a.test"], &["b.test", "*.apps.test"], &["x.apps.test"]]);
        assert_eq!(chosen(&set, Some("a.test")), 0);
        assert_eq!(
            chosen(&set, Some("B.TEST")),
            1,
            "names are case-insensitive"
        );
        assert_eq!(chosen(&set, Some("one.apps.test")), 1, "wildcard");
        assert_eq!(chosen(&set, Some("x.apps.test")), 2, "exact beats wildcard");
        assert_eq!(
            chosen(&set, Some("deep.one.apps.test")),
            0,
            "a wildcard covers one label only"
        );
        assert_eq!(chosen(&set, Some("unknown.test")), 0);
        assert_eq!(chosen(&set, None), 0);
    }

    #[test]
    fn expiry_warning_starts_thirty_days_ahead() {
        let set = set_with(&[&["a.test"]]);
        let mut cert = set.certificates.into_iter().next().unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        cert.not_after = 1_000_000_000 + 31 * 24 * 3600;
        assert!(!cert.expires_soon(now));
        cert.not_after = 1_000_000_000 + 29 * 24 * 3600;
        assert!(cert.expires_soon(now));
        assert_eq!(cert.expires(), "2001-10-08 01:46:40");
    }
}
