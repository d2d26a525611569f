//! Reading Better Auth's `session` and `user` tables: the [`SessionStore`] trait and its
//! SQLite, PostgreSQL and MySQL implementations on sqlx.
//!
//! Pools are created lazily on first use, inside whichever runtime serves the request, because a
//! pool whose sockets belong to a dropped runtime stops working (Pingora builds its own runtimes).

mod dialect;
pub mod migrate;
mod sql_store;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{MySql, Postgres, Sqlite};

pub use dialect::{DateParam, Dialect, Queries};
use sql_store::SqlStore;

use crate::auth::session::{Session, SessionRecord, User};
use crate::config::{database_kind, DatabaseConfig};

/// A store failure. "Session not found" is not an error: it is `Ok(None)`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database URL could not be used.
    #[error("database.url: {0}")]
    Url(String),
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
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The dialect a database URL selects.
pub fn dialect_for(config: &DatabaseConfig) -> Result<Dialect, StoreError> {
    match database_kind(config.url.expose()) {
        "sqlite" => Ok(Dialect::Sqlite(config.schema.sqlite_dates)),
        "postgres" => Ok(Dialect::Postgres),
        "mysql" => Ok(Dialect::MySql),
        _ => Err(StoreError::Url("unsupported scheme".into())),
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
