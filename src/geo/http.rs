//! The HTTP providers: ipinfo (`lite` and `lookup` endpoints) and ip-api's JSON endpoint.
//!
//! Requests are plain GETs with the address in the path, over HTTPS (the system's roots plus
//! `geo.ca_file`) or HTTP; the answer is read up to a size cap and mapped to a [`Place`].
//! Errors never carry the URL, so the ipinfo token stays out of logs.

use std::net::IpAddr;

use reqwest::Url;
use serde::Deserialize;

use super::{GeoError, LookupError, Place};
use crate::config::GeoConfig;

/// The largest answer read; real ones are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// The fields asked of ip-api (its default answer has more).
const IPAPI_FIELDS: &str = "fields=status,message,country,countryCode,regionName,city";

enum Api {
    Ipinfo { lookup: bool, token: Option<String> },
    IpApi,
}

/// A provider reached over HTTP.
pub(super) struct HttpSource {
    client: reqwest::Client,
    base: Url,
    api: Api,
}

impl HttpSource {
    /// ipinfo: `GET {base}/lite/{ip}` or `GET {base}/lookup/{ip}`, `?token=` when there is one.
    pub(super) fn ipinfo(
        base_url: &str,
        lookup: bool,
        token: Option<String>,
        config: &GeoConfig,
    ) -> Result<Self, GeoError> {
        Self::new(base_url, Api::Ipinfo { lookup, token }, config)
    }

    /// ip-api: `GET {base}/json/{ip}?fields=...`.
    pub(super) fn ipapi(base_url: &str, config: &GeoConfig) -> Result<Self, GeoError> {
        Self::new(base_url, Api::IpApi, config)
    }

    fn new(base_url: &str, api: Api, config: &GeoConfig) -> Result<Self, GeoError> {
        let bad = |reason: String| GeoError::BaseUrl {
            url: base_url.to_string(),
            reason,
        };
        let base = Url::parse(base_url).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "https" | "http") {
            return Err(bad("only https:// and http:// URLs can be used".to_string()));
        }
        if base.cannot_be_a_base() || base.host().is_none() {
            return Err(bad("it has no host".to_string()));
        }
        let mut builder = reqwest::Client::builder();
        if let Some(path) = &config.ca_file {
            let ca_error = |reason: String| GeoError::CaFile {
                path: path.clone(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(e.to_string()))?;
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(GeoError::Client)?;
        Ok(Self { client, base, api })
    }

    /// `ipinfo-lite`, `ipinfo-lookup` or `ipapi`.
    pub(super) fn name(&self) -> &'static str {
        match self.api {
            Api::Ipinfo { lookup: false, .. } => "ipinfo-lite",
            Api::Ipinfo { lookup: true, .. } => "ipinfo-lookup",
            Api::IpApi => "ipapi",
        }
    }

    /// The request URL for `ip`.
    pub(super) fn url(&self, ip: IpAddr) -> Result<Url, LookupError> {
        let mut url = self.base.clone();
        let endpoint = match self.api {
            Api::Ipinfo { lookup: false, .. } => "lite",
            Api::Ipinfo { lookup: true, .. } => "lookup",
            Api::IpApi => "json",
        };
        url.path_segments_mut()
            .map_err(|()| LookupError::Refused("the base URL cannot take a path".to_string()))?
            .pop_if_empty()
            .push(endpoint)
            .push(&ip.to_string());
        url.set_fragment(None);
        match &self.api {
            Api::Ipinfo { token, .. } => {
                url.set_query(None);
                if let Some(token) = token {
                    url.query_pairs_mut().append_pair("token", token);
                }
            }
            Api::IpApi => url.set_query(Some(IPAPI_FIELDS)),
        }
        Ok(url)
    }

    /// Asks for `ip`; `Ok(None)` when the provider knows nothing about it.
    pub(super) async fn lookup(&self, ip: IpAddr) -> Result<Option<Place>, LookupError> {
        let url = self.url(ip)?;
        let body = self.get(url).await?;
        match self.api {
            Api::Ipinfo { .. } => {
                let answer: IpinfoAnswer =
                    serde_json::from_slice(&body).map_err(LookupError::Json)?;
                Ok(answer.into_place())
            }
            Api::IpApi => {
                let answer: IpApiAnswer =
                    serde_json::from_slice(&body).map_err(LookupError::Json)?;
                answer.into_place().map(Some)
            }
        }
    }

    /// The body of a 2xx answer to `GET url`, at most [`MAX_BODY`] bytes.
    async fn get(&self, url: Url) -> Result<Vec<u8>, LookupError> {
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(http_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(LookupError::Status(status));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http_error)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(LookupError::TooLarge(MAX_BODY));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Drops the URL (it may hold the token) from a reqwest error.
fn http_error(error: reqwest::Error) -> LookupError {
    LookupError::Http(error.without_url())
}

/// An ipinfo answer, any of its shapes:
///
/// - `lite`: `{"ip", "asn", "as_name", "as_domain", "country_code", "country" (a name),
///   "continent_code", "continent"}`;
/// - the classic flat shape: `{"ip", "city", "region", "country" (a code), "loc", "org",
///   "postal", "timezone"}`;
/// - the newer core shape: `{"ip", "geo": {"city", "region", "country" (a name),
///   "country_code", ...}, "as": {...}}`;
/// - a bogon: `{"ip", "bogon": true}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct IpinfoAnswer {
    bogon: bool,
    city: Option<String>,
    region: Option<String>,
    country: Option<String>,
    country_code: Option<String>,
    country_name: Option<String>,
    geo: Option<IpinfoGeo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IpinfoGeo {
    city: Option<String>,
    region: Option<String>,
    country: Option<String>,
    country_code: Option<String>,
}

impl IpinfoAnswer {
    pub(super) fn into_place(self) -> Option<Place> {
        if self.bogon {
            return None;
        }
        if let Some(geo) = self.geo {
            return Some(Place {
                city: geo.city,
                region: geo.region,
                country: geo.country,
                country_code: geo.country_code,
            });
        }
        // `country` is a name in `lite` answers and a two-letter code in flat ones.
        let (name, code) = match self.country {
            Some(c) if is_country_code(&c) => (None, Some(c)),
            other => (other, None),
        };
        Some(Place {
            city: self.city,
            region: self.region,
            country: self.country_name.or(name),
            country_code: self.country_code.or(code),
        })
    }
}

fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// An ip-api answer: `{"status": "success", "country", "countryCode", "regionName", "city"}` or
/// `{"status": "fail", "message"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct IpApiAnswer {
    status: Option<String>,
    message: Option<String>,
    country: Option<String>,
    country_code: Option<String>,
    region_name: Option<String>,
    city: Option<String>,
}

impl IpApiAnswer {
    pub(super) fn into_place(self) -> Result<Place, LookupError> {
        if self.status.as_deref() != Some("success") {
            return Err(LookupError::Refused(format!(
                "status {}: {}",
                self.status.as_deref().unwrap_or("missing"),
                self.message.as_deref().unwrap_or("no message")
            )));
        }
        Ok(Place {
            city: self.city,
            region: self.region_name,
            country: self.country,
            country_code: self.country_code,
        })
    }
}
