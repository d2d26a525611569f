//! Reading Better Auth's `session` and `user` tables: the [`SessionStore`] trait and its
//! SQLite, PostgreSQL and MySQL implementations on sqlx.
//!
//! Pools are created lazily on first use, inside whichever runtime serves the request, because a
//! pool whose sockets belong to a dropped runtime stops working (Pingora builds its own runtimes).

pub(crate) mod admin_indexes;
mod dialect;
mod field_values;
mod instrumented;
pub mod migrate;
pub(crate) mod notify;
pub mod session_listing;
mod sql_store;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{MySql, Postgres, Sqlite};

pub(crate) use dialect::{DateParam, Dialect, Queries, EXPIRED_BATCH};
pub(crate) use instrumented::InstrumentedStore;
use sql_store::SqlStore;

use crate::config::{DatabaseConfig, DatabaseKind};
use crate::session::{Session, SessionRecord, User};
use crate::time::Timestamp;
use session_listing::{Account, SessionPage, SessionSearch, SessionStats};

/// A store failure. "Session not found" is not an error: it is `Ok(None)`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database URL could not be used.
    #[error("database.url: {0}")]
    Url(String),
    /// The session was deleted while it was being refreshed.
    #[error("the session was deleted during its refresh")]
    SessionGone,
    /// The conditional refresh `UPDATE` matched no row, yet the row is there, unrefreshed.
    #[error("the refresh matched no row and nobody else refreshed the session")]
    RefreshNotWritten,
}

/// Better Auth's tables, seen from the gateway.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The session with this token joined with its user, in one query.
    async fn find_session(&self, token: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Inserts a user row as Better Auth writes it.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// Inserts a session row as Better Auth writes it.
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    /// Deletes the session with this token; whether a row was deleted.
    async fn delete_session(&self, token: &str) -> Result<bool, StoreError>;
    /// Every session of a user, expired ones included.
    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError>;
    /// Deletes every session of a user except the one with token `keep` (if any); returns the
    /// deleted sessions' tokens.
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<Vec<String>, StoreError>;
    /// Moves a session's expiry from `expected` to `expires_at` and its `updatedAt` to `now`,
    /// only if its expiry is still `expected`; whether this call wrote the row.
    async fn refresh_session(
        &self,
        token: &str,
        expected: Timestamp,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Deletes up to one batch of sessions that expired before `now`; how many were deleted.
    async fn delete_expired(&self, now: Timestamp) -> Result<u64, StoreError>;
    /// How many sessions have not expired at `now`.
    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError>;
    /// A page of sessions (with their users) and the total that match.
    async fn search_sessions(&self, search: &SessionSearch) -> Result<SessionPage, StoreError>;
    /// One session with its user, by session id.
    async fn find_session_by_id(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Counts for the admin stats panel.
    async fn session_stats(&self, now: Timestamp) -> Result<SessionStats, StoreError>;
    /// Up to `limit` user ids, picked at random.
    async fn sample_user_ids(&self, limit: u32) -> Result<Vec<String>, StoreError>;
    /// Inserts a linked account row.
    async fn insert_account(&self, account: &Account) -> Result<(), StoreError>;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The dialect a database URL selects.
fn dialect_for(config: &DatabaseConfig) -> Result<Dialect, StoreError> {
    match DatabaseKind::of(config.url.expose()) {
        Some(DatabaseKind::Sqlite) => Ok(Dialect::Sqlite(config.schema.sqlite_dates)),
        Some(DatabaseKind::Postgres) => Ok(Dialect::Postgres),
        Some(DatabaseKind::MySql) => Ok(Dialect::MySql),
        None => Err(StoreError::Url("unsupported scheme".into())),
    }
}

/// A store for `config`. No connection is opened until the first query.
pub fn open(config: &DatabaseConfig) -> Result<Arc<dyn SessionStore>, StoreError> {
    let dialect = dialect_for(config)?;
    let queries = Queries::build(&config.schema, dialect);
    let schema = &config.schema;
    let url = config.url.expose();
    let bad_url = |e: sqlx::Error| StoreError::Url(e.to_string());
    Ok(match dialect {
        Dialect::Sqlite(_) => {
            let options = sql_store::sqlite_options(url, false).map_err(bad_url)?;
            Arc::new(SqlStore::<Sqlite>::new(
                sql_store::pool_options(config),
                options,
                queries,
                dialect,
                schema,
            ))
        }
        Dialect::Postgres => {
            let options = sql_store::postgres_options(url).map_err(bad_url)?;
            Arc::new(SqlStore::<Postgres>::new(
                sql_store::pool_options(config),
                options,
                queries,
                dialect,
                schema,
            ))
        }
        Dialect::MySql => {
            let options = sql_store::mysql_options(url).map_err(bad_url)?;
            Arc::new(SqlStore::<MySql>::new(
                sql_store::pool_options(config),
                options,
                queries,
                dialect,
                schema,
            ))
        }
    })
}

/// The file of a SQLite URL, when that file does not exist.
pub fn missing_sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if DatabaseKind::of(url) != Some(DatabaseKind::Sqlite) {
        return None;
    }
    let options = sql_store::sqlite_options(url, false).ok()?;
    let path = options.get_filename();
    (!path.exists()).then(|| path.to_path_buf())
}
