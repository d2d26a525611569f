//! IP geolocation for the sessions admin: turns a session's IP address into a city, region and
//! country (with a flag emoji), the way Better Auth Studio's Sessions page shows them.
//!
//! [`Geo`] is built once from [`GeoConfig`] and asks one provider:
//!
//! - `ipinfo`: the `lite` endpoint (country only) or the `lookup` endpoint (city, region,
//!   country), with an optional token;
//! - `ipapi`: the JSON endpoint, no token;
//! - `mmdb`: a MaxMind-format database (GeoIP2/GeoLite2 City or Country) read from disk once;
//! - `none`: no lookups at all.
//!
//! Private, loopback and other special-purpose addresses are labelled without asking anyone.
//! [`Geo::locate`] never fails: a provider error, a timeout or an address the provider knows
//! nothing about gives a [`Location`] of kind [`LocationKind::Unknown`]. Answers are cached per
//! address (`cache_ttl`, `cache_max`); unknown answers only for a minute at most, so that a
//! provider outage heals by itself. Concurrent lookups of one address share one request.

mod http;
mod mmdb;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::config::{GeoConfig, GeoProvider};

/// The longest an unknown answer (error, timeout, no data) is cached.
const UNKNOWN_TTL: Duration = Duration::from_secs(60);

/// Where an IP address is, as far as Gatehouse can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Location {
    /// The address looked up (an IPv4-mapped IPv6 address is given as its IPv4 form).
    pub(crate) ip: String,
    /// What kind of address it is, or `unknown` when no location could be found.
    pub(crate) kind: LocationKind,
    /// City name, in English.
    pub(crate) city: Option<String>,
    /// Region, state or other first-level subdivision, in English.
    pub(crate) region: Option<String>,
    /// Country name, in English (not every provider gives one).
    pub(crate) country: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub(crate) country_code: Option<String>,
    /// The country's flag as an emoji (two regional indicator symbols).
    pub(crate) flag: Option<String>,
}

impl Location {
    /// A location with nothing but the address and its kind.
    fn bare(ip: IpAddr, kind: LocationKind) -> Self {
        Self {
            ip: ip.to_string(),
            kind,
            city: None,
            region: None,
            country: None,
            country_code: None,
            flag: None,
        }
    }
}

/// What kind of address a [`Location`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LocationKind {
    /// A public address the provider located.
    Public,
    /// A private-use address (RFC 1918, CGNAT, link-local, IPv6 unique local): never looked up.
    Private,
    /// A loopback address: never looked up.
    Loopback,
    /// No location: no provider, the lookup failed or timed out, the provider knows nothing
    /// about the address, or the address is special-purpose (unspecified, multicast,
    /// documentation, reserved).
    Unknown,
}

/// Why [`Geo::new`] could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GeoError {
    /// The MaxMind database could not be read or is not a MaxMind database.
    #[error("cannot open the geo database `{path}`: {source}")]
    Mmdb {
        path: String,
        source: maxminddb::MaxMindDbError,
    },
    /// The provider's base URL is not an absolute https:// or http:// URL.
    #[error("the geo base_url `{url}` is not usable: {reason}")]
    BaseUrl { url: String, reason: String },
    /// `geo.ca_file` could not be read or holds no usable certificate.
    #[error("cannot use geo.ca_file `{path}`: {reason}")]
    CaFile { path: String, reason: String },
    /// The HTTP client could not be built.
    #[error("cannot build the geo HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// A string that is not an IP address, given to [`Geo::locate_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an IP address")]
pub(crate) struct InvalidIp {
    /// The input, cut to its first 64 characters.
    pub(crate) input: String,
}

/// The country's flag emoji for an ISO 3166-1 alpha-2 code (`"US"` or `"us"` gives 🇺🇸).
///
/// `None` unless `country_code` is exactly two ASCII letters.
pub(crate) fn flag_emoji(country_code: &str) -> Option<String> {
    let bytes = country_code.as_bytes();
    if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    bytes
        .iter()
        .map(|b| char::from_u32(0x1F1E6 + u32::from(b.to_ascii_uppercase() - b'A')))
        .collect()
}

/// What a provider found, before it becomes a [`Location`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Place {
    city: Option<String>,
    region: Option<String>,
    country: Option<String>,
    country_code: Option<String>,
}

impl Place {
    /// The location of `ip`; `Unknown` when the place says nothing at all.
    fn into_location(self, ip: IpAddr) -> Location {
        let city = clean(self.city);
        let region = clean(self.region);
        let country = clean(self.country);
        let country_code = clean(self.country_code).map(|c| c.to_ascii_uppercase());
        if city.is_none() && region.is_none() && country.is_none() && country_code.is_none() {
            return Location::bare(ip, LocationKind::Unknown);
        }
        Location {
            ip: ip.to_string(),
            kind: LocationKind::Public,
            flag: country_code.as_deref().and_then(flag_emoji),
            city,
            region,
            country,
            country_code,
        }
    }
}

/// Trimmed, and `None` when empty.
fn clean(value: Option<String>) -> Option<String> {
    let value = value?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == value.len() {
        Some(value)
    } else {
        Some(trimmed.to_string())
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its IPv4 address; others unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is a public address, one a provider may locate (not private, loopback,
/// reserved, documentation, ...).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    special_kind(ip).is_none()
}

/// The kind of an address that is never looked up; `None` for a public address.
fn special_kind(ip: IpAddr) -> Option<LocationKind> {
    match ip {
        IpAddr::V4(v4) => special_kind_v4(v4),
        IpAddr::V6(v6) => special_kind_v6(v6),
    }
}

fn special_kind_v4(ip: Ipv4Addr) -> Option<LocationKind> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some(LocationKind::Loopback)
    } else if ip.is_private() || ip.is_link_local() || (a == 100 && (64..128).contains(&b)) {
        // RFC 1918, 169.254/16, and CGNAT 100.64/10 (an address behind the carrier's NAT).
        Some(LocationKind::Private)
    } else if a == 0
        || ip.is_broadcast()
        || ip.is_multicast()
        || a >= 240
        || ip.is_documentation()
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
    {
        // "This network", broadcast, multicast, reserved, documentation, IETF protocol
        // assignments and benchmarking: no provider knows where these are.
        Some(LocationKind::Unknown)
    } else {
        None
    }
}

fn special_kind_v6(ip: Ipv6Addr) -> Option<LocationKind> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(LocationKind::Loopback)
    } else if (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 || (first & 0xffc0) == 0xfec0
    {
        // Unique local fc00::/7, link-local fe80::/10, and the old site-local fec0::/10.
        Some(LocationKind::Private)
    } else if ip.is_unspecified()
        || ip.is_multicast()
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
    {
        // ::, ff00::/8 and the documentation prefix 2001:db8::/32.
        Some(LocationKind::Unknown)
    } else {
        None
    }
}

/// One cached answer: filled once by whichever caller gets there first, awaited by the others.
type Slot = Arc<OnceCell<Location>>;

/// Cache lifetimes by answer: full for a location, short for an unknown one.
struct SlotExpiry {
    ttl: Duration,
    unknown_ttl: Duration,
}

impl SlotExpiry {
    fn of(&self, slot: &Slot) -> Duration {
        match slot.get() {
            Some(location) if location.kind == LocationKind::Unknown => self.unknown_ttl,
            _ => self.ttl,
        }
    }
}

impl moka::Expiry<IpAddr, Slot> for SlotExpiry {
    fn expire_after_create(&self, _: &IpAddr, slot: &Slot, _: Instant) -> Option<Duration> {
        Some(self.of(slot))
    }

    fn expire_after_update(
        &self,
        _: &IpAddr,
        slot: &Slot,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.of(slot))
    }
}

/// Where answers come from.
enum Source {
    None,
    Http(http::HttpSource),
    Mmdb(mmdb::MmdbSource),
}

struct Inner {
    source: Source,
    timeout: Duration,
    cache: moka::sync::Cache<IpAddr, Slot>,
}

/// The geolocation service: one provider and a per-address cache. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct Geo {
    inner: Arc<Inner>,
}

impl fmt::Debug for Geo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let provider = match &self.inner.source {
            Source::None => "none",
            Source::Http(source) => source.name(),
            Source::Mmdb(_) => "mmdb",
        };
        f.debug_struct("Geo")
            .field("provider", &provider)
            .field("timeout", &self.inner.timeout)
            .field("cached", &self.inner.cache.entry_count())
            .finish()
    }
}

impl Geo {
    /// Builds the service: opens the MaxMind database (once, into memory) or builds the HTTP
    /// client with `config.timeout` and `config.ca_file`.
    pub(crate) fn new(config: &GeoConfig) -> Result<Self, GeoError> {
        let source = match &config.provider {
            GeoProvider::None => Source::None,
            GeoProvider::Ipinfo {
                lookup,
                token,
                base_url,
            } => Source::Http(http::HttpSource::ipinfo(
                base_url,
                *lookup,
                token.as_ref().map(|t| t.expose().to_string()),
                config,
            )?),
            GeoProvider::IpApi { base_url } => {
                Source::Http(http::HttpSource::ipapi(base_url, config)?)
            }
            GeoProvider::Mmdb { path } => Source::Mmdb(mmdb::MmdbSource::open(path)?),
        };
        let cache = moka::sync::Cache::builder()
            .max_capacity(config.cache_max)
            .expire_after(SlotExpiry {
                ttl: config.cache_ttl,
                unknown_ttl: config.cache_ttl.min(UNKNOWN_TTL),
            })
            .build();
        Ok(Self {
            inner: Arc::new(Inner {
                source,
                timeout: config.timeout,
                cache,
            }),
        })
    }

    /// Where `ip` is. Never fails: see [`LocationKind::Unknown`]. Private and loopback
    /// addresses are labelled without a lookup; answers are cached.
    pub(crate) async fn locate(&self, ip: IpAddr) -> Location {
        let ip = canonical(ip);
        if let Some(known) = self.known_without_lookup(ip) {
            return known;
        }
        let slot = self.inner.cache.get_with(ip, || Arc::new(OnceCell::new()));
        let mut filled_here = false;
        let flag = &mut filled_here;
        let location = slot
            .get_or_init(|| async move {
                *flag = true;
                self.lookup(ip).await
            })
            .await
            .clone();
        if filled_here {
            // Again, now that the slot is filled, so that the cache gives it its lifetime.
            self.inner.cache.insert(ip, slot);
        }
        location
    }

    /// What [`locate`](Self::locate) would answer without a lookup: the label of a private,
    /// loopback or special address, `Unknown` when there is no provider, or a cached answer.
    /// `None` when a lookup is needed.
    pub(crate) fn cached(&self, ip: IpAddr) -> Option<Location> {
        let ip = canonical(ip);
        if let Some(known) = self.known_without_lookup(ip) {
            return Some(known);
        }
        self.inner
            .cache
            .get(&ip)
            .and_then(|slot| slot.get().cloned())
    }

    /// [`locate`](Self::locate) for an address given as text (surrounding spaces and IPv6
    /// brackets allowed). An empty or unparsable string is an error.
    pub(crate) async fn locate_str(&self, ip: &str) -> Result<Location, InvalidIp> {
        let trimmed = ip.trim();
        let bare = trimmed
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(trimmed);
        match bare.parse::<IpAddr>() {
            Ok(addr) => Ok(self.locate(addr).await),
            Err(_) => Err(InvalidIp {
                input: ip.chars().take(64).collect(),
            }),
        }
    }

    fn known_without_lookup(&self, ip: IpAddr) -> Option<Location> {
        if let Some(kind) = special_kind(ip) {
            return Some(Location::bare(ip, kind));
        }
        match self.inner.source {
            Source::None => Some(Location::bare(ip, LocationKind::Unknown)),
            _ => None,
        }
    }

    /// Asks the provider, within the timeout.
    async fn lookup(&self, ip: IpAddr) -> Location {
        let asked = async {
            match &self.inner.source {
                Source::None => Ok(None),
                Source::Http(source) => source.lookup(ip).await,
                Source::Mmdb(source) => source.lookup(ip),
            }
        };
        match tokio::time::timeout(self.inner.timeout, asked).await {
            Ok(Ok(Some(place))) => {
                let location = place.into_location(ip);
                if location.kind == LocationKind::Unknown {
                    tracing::debug!(%ip, "geo lookup: the provider has nothing for this address");
                }
                location
            }
            Ok(Ok(None)) => {
                tracing::debug!(%ip, "geo lookup: the provider has nothing for this address");
                Location::bare(ip, LocationKind::Unknown)
            }
            Ok(Err(error)) => {
                tracing::debug!(%ip, %error, "geo lookup failed");
                Location::bare(ip, LocationKind::Unknown)
            }
            Err(_) => {
                tracing::debug!(%ip, timeout = ?self.inner.timeout, "geo lookup timed out");
                Location::bare(ip, LocationKind::Unknown)
            }
        }
    }
}

/// Why one lookup found nothing.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("request failed: {0}")]
    Http(#[source] reqwest::Error),
    #[error("the provider answered {0}")]
    Status(reqwest::StatusCode),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the answer is not the expected JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the provider refused: {0}")]
    Refused(String),
    #[error("database lookup failed: {0}")]
    Mmdb(#[source] maxminddb::MaxMindDbError),
}
