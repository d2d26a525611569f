//! What the sessions admin reads: a searched, filtered, sorted page of sessions with a total,
//! one session by id, and counts for the stats panel. SQL is assembled from whitelisted pieces;
//! every value is a bound parameter.

use super::dialect::{Dialect, Queries};
use crate::session::SessionRecord;
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
    /// Counting stops here: [`SessionPage::total`] is then a lower bound.
    pub count_cap: u64,
}

/// A page of sessions and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPage {
    /// How many sessions match, up to the search's `count_cap`.
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

/// Bound values in placeholder order, for one statement.
struct Binder {
    dialect: Dialect,
    binds: Vec<Bind>,
}

impl Binder {
    fn new(dialect: Dialect) -> Self {
        Binder {
            dialect,
            binds: Vec::new(),
        }
    }

    /// Adds `bind` and returns its placeholder.
    fn push(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        self.dialect.placeholder(self.binds.len())
    }
}

fn as_int(n: u64) -> Bind {
    Bind::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

impl Queries {
    /// The count and page statements for `search`.
    ///
    /// A search is split into two disjoint branches, so that each can use an index on its own
    /// table (PostgreSQL trigram indexes, `gatehouse migrate --admin-indexes`): sessions whose id
    /// or IP matches, and sessions whose user's id or e-mail matches but whose own columns do not.
    /// The count adds up the branches and stops at `count_cap`; the page takes the first
    /// `offset + limit` rows of each branch, merges them and cuts the page out.
    pub fn search_sql(&self, search: &SessionSearch) -> SearchSql {
        let (count, count_binds) = self.count_sql(search);
        let (page, page_binds) = self.page_sql(search);
        SearchSql {
            count,
            count_binds,
            page,
            page_binds,
        }
    }

    /// How many branches a search has: two with a search term, else one.
    fn branch_count(search: &SessionSearch) -> usize {
        if search.search.as_deref().is_some_and(|t| !t.is_empty()) {
            2
        } else {
            1
        }
    }

    /// The `WHERE` clause of branch `branch`. Placeholders are numbered as they are pushed, so
    /// callers build a statement's text in placeholder order.
    fn branch_filter(&self, search: &SessionSearch, branch: usize, binder: &mut Binder) -> String {
        let (d, c) = (self.dialect, &self.listing);
        let mut conds = Vec::new();
        if let Some(term) = search.search.as_deref().filter(|t| !t.is_empty()) {
            let mut like = |column: &str| {
                let p = binder.push(Bind::Text(like_pattern(term)));
                format!("{column} LIKE {p} ESCAPE '!'")
            };
            if branch == 0 {
                conds.push(format!("({} OR {})", like(&c.session_id), like(&c.ip)));
            } else {
                conds.push(format!("({} OR {})", like(&c.user_pk), like(&c.email)));
                conds.push(format!(
                    "NOT ({} OR COALESCE({}, FALSE))",
                    like(&c.session_id),
                    like(&c.ip)
                ));
            }
        }
        if search.status != StatusFilter::All {
            let op = if search.status == StatusFilter::Active {
                ">"
            } else {
                "<="
            };
            let p = binder.push(Bind::Int(search.now.millis()));
            conds.push(d.compare_date(&c.expires_at, op, &p));
        }
        if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        }
    }

    fn count_sql(&self, search: &SessionSearch) -> (String, Vec<Bind>) {
        let mut binder = Binder::new(self.dialect);
        let branches: Vec<String> = (0..Self::branch_count(search))
            .map(|branch| {
                let filter = self.branch_filter(search, branch, &mut binder);
                format!("SELECT 1 AS one {} {filter}", self.record_from)
            })
            .collect();
        let cap = binder.push(as_int(search.count_cap));
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT one FROM ({}) matched LIMIT {cap}) capped",
            branches.join(" UNION ALL ")
        );
        (sql, binder.binds)
    }

    /// The page in two steps: the ids of the page from each branch, merged and cut (reading only
    /// the id, sort and filter columns, which an index can cover), then their full records.
    fn page_sql(&self, search: &SessionSearch) -> (String, Vec<Bind>) {
        let c = &self.listing;
        let mut binder = Binder::new(self.dialect);
        let sort = match search.sort {
            SortKey::ExpiresAt => &c.expires_at,
            SortKey::CreatedAt => &c.created_at,
            SortKey::UpdatedAt => &c.updated_at,
        };
        let order = if search.descending { "DESC" } else { "ASC" };
        let members: Vec<String> = (0..Self::branch_count(search))
            .map(|branch| {
                let filter = self.branch_filter(search, branch, &mut binder);
                let upto = binder.push(as_int(search.offset.saturating_add(search.limit)));
                format!(
                    "SELECT * FROM (SELECT {id} AS page_id, {sort} AS page_key {from} {filter} \
                     ORDER BY {sort} {order}, {id} ASC LIMIT {upto}) branch{branch}",
                    id = c.session_id,
                    from = self.record_from,
                )
            })
            .collect();
        let limit = binder.push(as_int(search.limit));
        let offset = binder.push(as_int(search.offset));
        let sql = format!(
            "SELECT {record} {from} WHERE {id} IN (SELECT page_id FROM ({members} \
             ORDER BY page_key {order}, page_id ASC LIMIT {limit} OFFSET {offset}) page) \
             ORDER BY {sort} {order}, {id} ASC",
            record = self.record_select,
            from = self.record_from,
            id = c.session_id,
            members = members.join(" UNION ALL "),
        );
        (sql, binder.binds)
    }

    /// `[total, active, users with active sessions]` (binds: now, now), top users (binds: now),
    /// and IP counts (binds: now).
    pub fn stats_sql(&self) -> [String; 3] {
        let (d, c) = (self.dialect, &self.listing);
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
