//! What the sessions admin reads: a searched, filtered, sorted page of sessions with a total,
//! one session by id, and counts for the stats panel. SQL is assembled from whitelisted pieces;
//! every value is a bound parameter.

use super::dialect::Queries;
use crate::auth::session::SessionRecord;
use crate::time::Timestamp;

/// Which sessions to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Active,
    Expired,
}

/// The date a page is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    ExpiresAt,
    CreatedAt,
    UpdatedAt,
}

/// A page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSearch {
    /// Matched anywhere in the session id, user id, user email or IP address.
    pub search: Option<String>,
    pub status: StatusFilter,
    pub sort: SortKey,
    pub descending: bool,
    pub offset: u64,
    pub limit: u64,
    pub now: Timestamp,
}

/// A page of sessions and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPage {
    pub total: u64,
    pub sessions: Vec<SessionRecord>,
}

/// A user and how many unexpired sessions they have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCount {
    pub id: String,
    pub name: String,
    pub email: String,
    pub sessions: u64,
}

/// Counts over the session table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStats {
    pub total: u64,
    pub active: u64,
    pub users_with_sessions: u64,
    /// The users with the most unexpired sessions, most first.
    pub top_users: Vec<UserCount>,
    /// IP addresses of unexpired sessions with their counts, most first (at most 1000).
    pub ips: Vec<(String, u64)>,
}

/// A linked account row, as the seeding endpoint writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub user_id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A value bound to a statement, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

/// The statements for one page: the count and the page itself, with their binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchSql {
    pub count: String,
    pub count_binds: Vec<Bind>,
    pub page: String,
    pub page_binds: Vec<Bind>,
}

/// `%term%` with `!`, `%` and `_` escaped by `!` (used with `ESCAPE '!'`).
fn like_pattern(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    out.push('%');
    for c in term.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Column names, quoted, as the admin statements need them.
#[derive(Debug, Clone)]
pub struct AdminColumns {
    pub session_id: String,
    pub user_id: String,
    pub email: String,
    pub ip: String,
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub user_pk: String,
    pub name: String,
    pub session_table: String,
}

impl Queries {
    /// The count and page statements for `search`.
    pub fn search_sql(&self, search: &SessionSearch) -> SearchSql {
        let (d, c) = (self.dialect, &self.admin);
        let mut conds = Vec::new();
        let mut binds = Vec::new();
        if let Some(term) = search.search.as_deref().filter(|t| !t.is_empty()) {
            let fields = [&c.session_id, &c.user_id, &c.email, &c.ip];
            let ors: Vec<String> = fields
                .iter()
                .map(|f| {
                    binds.push(Bind::Text(like_pattern(term)));
                    format!("{f} LIKE {} ESCAPE '!'", d.placeholder(binds.len()))
                })
                .collect();
            conds.push(format!("({})", ors.join(" OR ")));
        }
        let expires = d.millis(&c.expires_at);
        match search.status {
            StatusFilter::All => {}
            StatusFilter::Active | StatusFilter::Expired => {
                binds.push(Bind::Int(search.now.millis()));
                let op = if search.status == StatusFilter::Active {
                    ">"
                } else {
                    "<="
                };
                conds.push(format!("{expires} {op} {}", d.placeholder(binds.len())));
            }
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let count = format!("SELECT COUNT(*) {} {filter}", self.record_from);
        let count_binds = binds.clone();
        let sort = match search.sort {
            SortKey::ExpiresAt => &c.expires_at,
            SortKey::CreatedAt => &c.created_at,
            SortKey::UpdatedAt => &c.updated_at,
        };
        let order = if search.descending { "DESC" } else { "ASC" };
        binds.push(Bind::Int(i64::try_from(search.limit).unwrap_or(i64::MAX)));
        let limit = d.placeholder(binds.len());
        binds.push(Bind::Int(i64::try_from(search.offset).unwrap_or(i64::MAX)));
        let offset = d.placeholder(binds.len());
        let page = format!(
            "SELECT {} {} {filter} ORDER BY {sort} {order}, {} ASC LIMIT {limit} OFFSET {offset}",
            self.record_select, self.record_from, c.session_id
        );
        SearchSql {
            count,
            count_binds,
            page,
            page_binds: binds,
        }
    }

    /// `[total, active, users with active sessions]` (binds: now, now), top users (binds: now),
    /// and IP counts (binds: now).
    pub fn stats_sql(&self) -> [String; 3] {
        let (d, c) = (self.dialect, &self.admin);
        let expires = d.millis(&c.expires_at);
        let p1 = d.placeholder(1);
        let p2 = d.placeholder(2);
        let session_table = &c.session_table;
        [
            format!(
                "SELECT COUNT(*), COUNT(CASE WHEN {expires} > {p1} THEN 1 END), \
                 COUNT(DISTINCT CASE WHEN {expires} > {p2} THEN {} END) FROM {session_table} s",
                c.user_id
            ),
            format!(
                "SELECT {pk}, {name}, {email}, COUNT(*) AS n {from} WHERE {expires} > {p1} \
                 GROUP BY {pk}, {name}, {email} ORDER BY n DESC, {pk} ASC LIMIT 10",
                pk = c.user_pk,
                name = c.name,
                email = c.email,
                from = self.record_from
            ),
            format!(
                "SELECT {ip}, COUNT(*) AS n FROM {session_table} s WHERE {expires} > {p1} AND {ip} IS NOT NULL \
                 AND {ip} <> '' GROUP BY {ip} ORDER BY n DESC LIMIT 1000",
                ip = c.ip
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("ab"), "%ab%");
        assert_eq!(like_pattern("50%_off!"), "%50!%!_off!!%");
    }
}
