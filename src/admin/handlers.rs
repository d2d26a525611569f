//! The admin API's answers: session lists, details, revocation, seeding, geolocation, stats.

use std::collections::BTreeMap;
use std::net::IpAddr;

use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Admin, AdminRoute};
use crate::geo::{Location, LocationKind};

use super::list_query::ListRequest;
use crate::reply::{json, json_response, store_unavailable};
use crate::session::{Session, SessionRecord};
use crate::store::session_listing::{Account, SessionSearch};
use crate::time::Timestamp;

/// A listing counts matches up to this many and then says "more than this": an exact count of a
/// broad search over millions of sessions would cost more than the page itself.
const COUNT_LIMIT: u64 = 10_000;

/// 400 naming the parameter at fault.
fn bad_parameter(name: &str, why: &str) -> Response<Bytes> {
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "error": "bad_parameter", "parameter": name, "message": why }),
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserJson<'a> {
    id: &'a str,
    name: &'a str,
    email: &'a str,
}

/// A session as the admin sees it: never its token.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionRow<'a> {
    id: &'a str,
    user: UserJson<'a>,
    ip_address: Option<&'a str>,
    user_agent: Option<&'a str>,
    location: Option<Location>,
    status: &'static str,
    created_at: String,
    updated_at: String,
    expires_at: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page<'a> {
    /// How many sessions match, at most [`COUNT_LIMIT`].
    total: u64,
    /// False when more than [`COUNT_LIMIT`] match: `total` is then a lower bound.
    total_exact: bool,
    page: u64,
    page_size: u64,
    sessions: Vec<SessionRow<'a>>,
}

#[derive(Deserialize)]
struct CountBody {
    count: i64,
}

#[derive(Deserialize)]
struct IpBody {
    ip: String,
}

/// How many of the most common addresses `stats` resolves itself.
const RESOLVED_FOR_STATS: usize = 50;

/// Providers a seeded account is linked with.
const PROVIDERS: &[&str] = &["github", "google", "discord", "credential", "phone"];

impl Admin {
    pub(super) async fn admin_api(
        &self,
        route: AdminRoute,
        req: &Parts,
        body: &[u8],
    ) -> Response<Bytes> {
        match route {
            AdminRoute::ListSessions => self.list(req).await,
            AdminRoute::GetSession(id) => match self.store.find_session_by_id(&id).await {
                Ok(Some(record)) => {
                    let location = self.locate(record.session.ip_address.as_deref()).await;
                    json(StatusCode::OK, &self.row(&record, location))
                }
                Ok(None) => json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
                Err(e) => store_unavailable("admin", &e),
            },
            AdminRoute::DeleteSession(id) => match self.store.find_session_by_id(&id).await {
                Ok(Some(record)) => match self
                    .revocation
                    .revoke(&[record.session.token], "admin")
                    .await
                {
                    Ok(n) => json(StatusCode::OK, &serde_json::json!({ "revoked": n })),
                    Err(e) => store_unavailable("admin", &e),
                },
                Ok(None) => json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
                Err(e) => store_unavailable("admin", &e),
            },
            AdminRoute::DeleteUserSessions(user_id) => {
                match self.revocation.revoke_user(&user_id, None, "admin").await {
                    Ok(n) => json(StatusCode::OK, &serde_json::json!({ "revoked": n })),
                    Err(e) => store_unavailable("admin", &e),
                }
            }
            AdminRoute::SeedSessions => self.seed(body, false).await,
            AdminRoute::SeedAccounts => self.seed(body, true).await,
            AdminRoute::GeoResolve => {
                let Ok(IpBody { ip }) = serde_json::from_slice(body) else {
                    return bad_parameter("ip", "send {\"ip\": \"<address>\"}");
                };
                match self.geo.locate_str(&ip).await {
                    Ok(location) => json(StatusCode::OK, &location),
                    Err(e) => bad_parameter("ip", &e.to_string()),
                }
            }
            AdminRoute::Stats => self.stats().await,
            AdminRoute::Page | AdminRoute::Asset(_) => {
                json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#)
            }
        }
    }

    async fn locate(&self, ip: Option<&str>) -> Option<Location> {
        let ip: IpAddr = ip?.parse().ok()?;
        Some(self.geo.locate(ip).await)
    }

    fn row<'a>(&self, r: &'a SessionRecord, location: Option<Location>) -> SessionRow<'a> {
        let s: &Session = &r.session;
        let active = !r.is_expired(self.clock.now());
        SessionRow {
            id: &s.id,
            user: UserJson {
                id: &r.user.id,
                name: &r.user.name,
                email: &r.user.email,
            },
            ip_address: s.ip_address.as_deref(),
            user_agent: s.user_agent.as_deref(),
            location,
            status: if active { "active" } else { "expired" },
            created_at: s.created_at.to_iso(),
            updated_at: s.updated_at.to_iso(),
            expires_at: s.expires_at.to_iso(),
        }
    }

    async fn list(&self, req: &Parts) -> Response<Bytes> {
        let request = match ListRequest::parse(req.uri.query().unwrap_or("")) {
            Ok(request) => request,
            Err(bad) => return bad_parameter(bad.name, bad.why),
        };
        let (page, page_size) = (request.page, request.page_size);
        let query = SessionSearch {
            search: request.search,
            status: request.status,
            sort: request.sort,
            descending: request.descending,
            offset: (page - 1) * page_size,
            limit: page_size,
            now: self.clock.now(),
            count_cap: COUNT_LIMIT + 1,
        };
        match self.store.search_sessions(&query).await {
            Ok(found) => {
                let rows = found
                    .sessions
                    .iter()
                    .map(|r| {
                        let ip = r
                            .session
                            .ip_address
                            .as_deref()
                            .and_then(|ip| ip.parse().ok());
                        self.row(r, ip.and_then(|ip| self.geo.cached(ip)))
                    })
                    .collect();
                json(
                    StatusCode::OK,
                    &Page {
                        total: found.total.min(COUNT_LIMIT),
                        total_exact: found.total <= COUNT_LIMIT,
                        page,
                        page_size,
                        sessions: rows,
                    },
                )
            }
            Err(e) => store_unavailable("admin", &e),
        }
    }

    async fn seed(&self, body: &[u8], accounts: bool) -> Response<Bytes> {
        if !self.config.admin.as_ref().is_some_and(|a| a.allow_seeding) {
            return json_response(
                StatusCode::FORBIDDEN,
                r#"{"error":"seeding_disabled","message":"set admin.allow_seeding = true to create test data"}"#,
            );
        }
        let count = match serde_json::from_slice::<CountBody>(body) {
            Ok(CountBody { count }) if (1..=100).contains(&count) => count,
            _ => return bad_parameter("count", "send {\"count\": n} with n from 1 to 100"),
        };
        let users = match self
            .store
            .sample_user_ids(u32::try_from(count).unwrap_or(100))
            .await
        {
            Ok(users) if !users.is_empty() => users,
            Ok(_) => {
                return json_response(
                    StatusCode::CONFLICT,
                    r#"{"error":"no_users","message":"sign up a user first"}"#,
                )
            }
            Err(e) => return store_unavailable("admin", &e),
        };
        let kind = if accounts { "accounts" } else { "sessions" };
        tracing::info!(count, kind, "seeding started");
        let (mut created, mut failed) = (0u32, 0u32);
        for i in 0..count {
            let user_id = users[usize::try_from(i).unwrap_or(0) % users.len()].clone();
            let now = self.clock.now();
            let result = if accounts {
                let provider = PROVIDERS
                    .choose(&mut rand::thread_rng())
                    .copied()
                    .unwrap_or("credential");
                let account_id = if provider == "credential" {
                    user_id.clone()
                } else {
                    crate::session::random_id()
                };
                let account = Account {
                    id: crate::session::random_id(),
                    account_id,
                    provider_id: provider.to_string(),
                    user_id,
                    created_at: now,
                    updated_at: now,
                };
                self.store.insert_account(&account).await
            } else {
                self.store
                    .insert_session(&seeded_session(
                        user_id,
                        now,
                        now.plus(self.config.better_auth.expires_in),
                    ))
                    .await
            };
            match result {
                Ok(()) => created += 1,
                Err(e) => {
                    failed += 1;
                    tracing::warn!(error = %e, kind, "seeding one row failed");
                }
            }
            if (i + 1) % 10 == 0 {
                tracing::info!(done = i + 1, of = count, kind, "seeding progress");
            }
        }
        tracing::info!(created, failed, kind, "seeding finished");
        json(
            StatusCode::OK,
            &serde_json::json!({ "created": created, "failed": failed }),
        )
    }

    async fn stats(&self) -> Response<Bytes> {
        let stats = match self.store.session_stats(self.clock.now()).await {
            Ok(stats) => stats,
            Err(e) => return store_unavailable("admin", &e),
        };
        // The most common addresses are resolved now (concurrently, cached, each bounded by
        // geo.timeout); the long tail only from what is already cached.
        let mut lookups = tokio::task::JoinSet::new();
        for (ip, _) in stats.ips.iter().take(RESOLVED_FOR_STATS) {
            if let Ok(ip) = ip.parse::<IpAddr>() {
                let geo = self.geo.clone();
                lookups.spawn(async move { geo.locate(ip).await });
            }
        }
        while lookups.join_next().await.is_some() {}
        let mut countries: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for (ip, n) in &stats.ips {
            let location = ip.parse().ok().and_then(|ip| self.geo.cached(ip));
            let named = |name: &str| (name.to_string(), String::new(), String::new());
            let key = match location {
                Some(l) if l.kind == LocationKind::Private => named("Private network"),
                Some(l) if l.kind == LocationKind::Loopback => named("Localhost"),
                Some(l) => (
                    l.country
                        .or(l.country_code.clone())
                        .unwrap_or_else(|| "Unknown".into()),
                    l.country_code.unwrap_or_default(),
                    l.flag.unwrap_or_default(),
                ),
                None => named("Unknown"),
            };
            *countries.entry(key).or_default() += n;
        }
        let mut by_country: Vec<serde_json::Value> = countries
            .into_iter()
            .map(|((country, code, flag), sessions)| {
                serde_json::json!({ "country": country, "countryCode": code, "flag": flag, "sessions": sessions })
            })
            .collect();
        by_country.sort_by_key(|c| std::cmp::Reverse(c["sessions"].as_u64().unwrap_or(0)));
        let top_users: Vec<serde_json::Value> = stats
            .top_users
            .iter()
            .map(|u| serde_json::json!({ "user": { "id": u.id, "name": u.name, "email": u.email }, "sessions": u.sessions }))
            .collect();
        json(
            StatusCode::OK,
            &serde_json::json!({
                "total": stats.total,
                "active": stats.active,
                "expired": stats.total.saturating_sub(stats.active),
                "usersWithSessions": stats.users_with_sessions,
                "topUsers": top_users,
                "byCountry": by_country,
            }),
        )
    }
}

/// A real, usable session for seeding, from a random public address.
fn seeded_session(user_id: String, now: Timestamp, expires_at: Timestamp) -> Session {
    let mut rng = rand::thread_rng();
    let ip = loop {
        let ip = IpAddr::from(rng.gen::<[u8; 4]>());
        if crate::geo::is_public(ip) {
            break ip.to_string();
        }
    };
    Session {
        id: crate::session::random_id(),
        token: crate::session::random_id(),
        user_id,
        expires_at,
        created_at: now,
        updated_at: now,
        ip_address: Some(ip),
        user_agent: Some("gatehouse seed".into()),
        impersonated_by: None,
        additional: Vec::new(),
        active_member_role: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sessions_come_from_public_addresses() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        for _ in 0..2000 {
            let session = seeded_session("u".into(), now, now);
            let ip: IpAddr = session.ip_address.as_deref().unwrap_or("").parse().unwrap();
            assert!(crate::geo::is_public(ip), "{ip}");
        }
    }
}
