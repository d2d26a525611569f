//! The offline provider: a MaxMind-format database (GeoIP2/GeoLite2 City or Country, or any
//! database with records of that shape), read into memory once.

use std::net::IpAddr;

use maxminddb::geoip2;

use super::{GeoError, LookupError, Place};

/// An open database.
pub(super) struct MmdbSource {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl MmdbSource {
    /// Reads the whole file at `path`; an error names the path.
    pub(super) fn open(path: &str) -> Result<Self, GeoError> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|source| GeoError::Mmdb {
            path: path.to_string(),
            source,
        })?;
        Ok(Self { reader })
    }

    /// The record for `ip`; `Ok(None)` when the database has none. An IPv6 address in an
    /// IPv4-only database is an error (and so an unknown location).
    pub(super) fn lookup(&self, ip: IpAddr) -> Result<Option<Place>, LookupError> {
        let found = self.reader.lookup(ip).map_err(LookupError::Mmdb)?;
        // Country databases decode as City records with no city and no subdivisions.
        let Some(record) = found
            .decode::<geoip2::City<'_>>()
            .map_err(LookupError::Mmdb)?
        else {
            return Ok(None);
        };
        // Some networks (anycast, satellite) have only the registered country.
        let country = if record.country.is_empty() {
            &record.registered_country
        } else {
            &record.country
        };
        Ok(Some(Place {
            city: record.city.names.english.map(str::to_string),
            region: record
                .subdivisions
                .first()
                .and_then(|s| s.names.english)
                .map(str::to_string),
            country: country.names.english.map(str::to_string),
            country_code: country.iso_code.map(str::to_string),
        }))
    }
}
