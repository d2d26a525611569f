//! One [`SessionStore`] implementation for every sqlx database, driven by [`Queries`].

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::mysql::{MySql, MySqlConnectOptions};
use sqlx::pool::{Pool, PoolOptions};
use sqlx::postgres::{PgConnectOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions};
use sqlx::{AssertSqlSafe, ColumnIndex, Connection, Database, Decode, Encode, Executor, Row, Type};

use super::dialect::{SESSION_COLUMNS, USER_COLUMNS};
use super::field_values;
use super::session_listing::{Account, Bind, SessionPage, SessionSearch, SessionStats, UserCount};
use super::{DateParam, Dialect, Queries, SessionStore, StoreError};
use crate::config::{AdditionalField, DatabaseConfig, FieldType, SchemaConfig};
use crate::session::{Session, SessionRecord, User};
use crate::time::Timestamp;

/// The part of a query result that differs by database without a common trait.
pub(super) trait RowsAffected: Database {
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

impl RowsAffected for Sqlite {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

impl RowsAffected for Postgres {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

impl RowsAffected for MySql {
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

/// A lazily connected pool plus the statements for its schema.
pub(super) struct SqlStore<DB: Database> {
    pool: OnceLock<Pool<DB>>,
    pool_options: PoolOptions<DB>,
    connect_options: <DB::Connection as sqlx::Connection>::Options,
    queries: Queries,
    dates: DateParam,
    admin_plugin: bool,
    layout: RecordLayout,
}

/// What follows the fixed columns of a record row: `headers.user_columns`, then the user's
/// and the session's additional fields.
#[derive(Debug, Clone)]
struct RecordLayout {
    extra_columns: usize,
    user_fields: Vec<FieldType>,
    session_fields: Vec<FieldType>,
    /// The active organization's member role comes last.
    member_role: bool,
}

impl<DB: Database> SqlStore<DB> {
    pub(super) fn new(
        pool_options: PoolOptions<DB>,
        connect_options: <DB::Connection as sqlx::Connection>::Options,
        queries: Queries,
        dialect: Dialect,
        schema: &SchemaConfig,
    ) -> Self {
        Self {
            pool: OnceLock::new(),
            pool_options,
            connect_options,
            queries,
            dates: dialect.date_param(),
            admin_plugin: schema.admin_plugin,
            layout: RecordLayout {
                extra_columns: schema.extra_user_columns.len(),
                user_fields: field_types(&schema.additional_fields.user),
                session_fields: field_types(&schema.additional_fields.session),
                member_role: schema.member_table.is_some(),
            },
        }
    }

    fn pool(&self) -> &Pool<DB> {
        self.pool.get_or_init(|| {
            self.pool_options
                .clone()
                .connect_lazy_with(self.connect_options.clone())
        })
    }
}

/// A pooled connection idle for less than this is handed out without a ping first.
///
/// sqlx pings every connection it takes from the pool and again when it puts it back: with the
/// query itself, three round trips to the database (or to SQLite's worker thread) for one
/// session lookup. The ping on return stays, so an idle connection was healthy when it was put
/// back; the one on taking is kept for connections idle long enough to have died meanwhile (a
/// restarted server, a dropped socket), as sqlx's `before_acquire` documentation suggests. Under
/// load connections are idle for microseconds, and a lookup costs one round trip instead of
/// two before its answer. A connection that died sooner fails its query at once; the session
/// lookup tries again (`find_session`), other operations report the error.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Whether `error` says the connection is gone rather than the query failed: the socket reset
/// or closed, or the server ending the session (`connection_ended`).
fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| connection_ended(&code)),
        _ => false,
    }
}

/// SQLSTATEs of a server ending the connection: class 08 (connection exception; MySQL's
/// shutdown is 08S01) and PostgreSQL's 57P01–57P03 (an administrator's `pg_terminate_backend`,
/// a shutdown, a crash), not 57014 (a cancelled query).
fn connection_ended(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || sqlstate.starts_with("57P")
}

/// Pool settings shared by every dialect.
pub(super) fn pool_options<DB: Database>(config: &DatabaseConfig) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(0)
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|connection: &mut DB::Connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// SQLite options; `create` only for `migrate` and `demo` (serving never creates a database).
pub(crate) fn sqlite_options(url: &str, create: bool) -> Result<SqliteConnectOptions, sqlx::Error> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(create)
        .busy_timeout(std::time::Duration::from_secs(5)))
}

/// PostgreSQL options with the session time zone pinned to UTC, so `timestamp` columns written
/// without a zone are read and written as UTC.
pub(crate) fn postgres_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(PgConnectOptions::from_str(url)?.options([("TimeZone", "UTC")]))
}

/// MySQL options (sqlx sets the session time zone to +00:00).
pub(crate) fn mysql_options(url: &str) -> Result<MySqlConnectOptions, sqlx::Error> {
    MySqlConnectOptions::from_str(url)
}

fn decode_session<'r, R>(row: &'r R) -> Result<Session, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let ts = |i: usize| row.try_get::<i64, _>(i).map(Timestamp::from_millis);
    Ok(Session {
        id: row.try_get(0)?,
        token: row.try_get(1)?,
        user_id: row.try_get(2)?,
        expires_at: ts(3)?,
        created_at: ts(4)?,
        updated_at: ts(5)?,
        ip_address: row.try_get(6)?,
        user_agent: row.try_get(7)?,
        impersonated_by: row.try_get(8)?,
        additional: Vec::new(),
        active_member_role: None,
    })
}

fn field_types(fields: &[AdditionalField]) -> Vec<FieldType> {
    fields.iter().map(|f| f.field_type).collect()
}

/// The additional fields of `types` starting at column `first`.
fn decode_fields<'r, R>(
    row: &'r R,
    first: usize,
    types: &[FieldType],
) -> Result<Vec<Value>, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    types
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            Ok(match ty {
                FieldType::Date => field_values::from_millis(row.try_get(first + i)?),
                _ => field_values::from_text(*ty, row.try_get(first + i)?),
            })
        })
        .collect()
}

fn decode_record<'r, R>(row: &'r R, layout: &RecordLayout) -> Result<SessionRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let ts = |i: usize| row.try_get::<i64, _>(i).map(Timestamp::from_millis);
    let u = SESSION_COLUMNS;
    let user_fields_at = u + USER_COLUMNS + layout.extra_columns;
    let user = User {
        id: row.try_get(u)?,
        name: row.try_get(u + 1)?,
        email: row.try_get(u + 2)?,
        email_verified: row.try_get(u + 3)?,
        image: row.try_get(u + 4)?,
        created_at: ts(u + 5)?,
        updated_at: ts(u + 6)?,
        role: row.try_get(u + 7)?,
        banned: row.try_get(u + 8)?,
        ban_reason: row.try_get(u + 9)?,
        ban_expires: row
            .try_get::<Option<i64>, _>(u + 10)?
            .map(Timestamp::from_millis),
        extra: (0..layout.extra_columns)
            .map(|i| row.try_get(u + USER_COLUMNS + i))
            .collect::<Result<_, _>>()?,
        additional: decode_fields(row, user_fields_at, &layout.user_fields)?,
    };
    let mut session = decode_session(row)?;
    let session_fields_at = user_fields_at + layout.user_fields.len();
    session.additional = decode_fields(row, session_fields_at, &layout.session_fields)?;
    if layout.member_role {
        session.active_member_role =
            row.try_get(session_fields_at + layout.session_fields.len())?;
    }
    Ok(SessionRecord { session, user })
}

/// A date bound the way the dialect stores it.
enum DateValue {
    Millis(i64),
    Text(String),
}

impl DateParam {
    fn value(self, t: Timestamp) -> DateValue {
        match self {
            DateParam::Millis => DateValue::Millis(t.millis()),
            DateParam::IsoText => DateValue::Text(t.to_iso()),
        }
    }
}

macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut q = $query;
        for bind in $binds {
            q = match bind {
                Bind::Text(text) => q.bind(text.clone()),
                Bind::Int(n) => q.bind(*n),
            };
        }
        q
    }};
}

macro_rules! bind_date {
    ($query:expr, $value:expr) => {
        match $value {
            DateValue::Millis(ms) => $query.bind(ms),
            DateValue::Text(text) => $query.bind(text),
        }
    };
}

#[async_trait]
impl<DB> SessionStore for SqlStore<DB>
where
    DB: RowsAffected + sqlx::database::HasStatementCache,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    usize: ColumnIndex<DB::Row>,
    for<'r> String: Decode<'r, DB> + Encode<'r, DB> + Type<DB>,
    for<'r> Option<String>: Encode<'r, DB>,
    for<'r> i64: Decode<'r, DB> + Encode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Encode<'r, DB> + Type<DB>,
    for<'r> Option<bool>: Encode<'r, DB>,
    for<'r> Option<i64>: Encode<'r, DB>,
    for<'r> &'r str: Encode<'r, DB> + Type<DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    async fn find_session(&self, token: &str) -> Result<Option<SessionRecord>, StoreError> {
        // A pooled connection that died less than `PING_AFTER_IDLE` after its last use fails at
        // once and is closed on its way back. The lookup only reads, so it is tried again on
        // another connection, at most once per connection the pool can hold.
        let mut retries = self.pool_options.get_max_connections();
        let row = loop {
            let found = sqlx::query::<DB>(AssertSqlSafe(self.queries.find_session.as_str()))
                .bind(token.to_string())
                .fetch_optional(self.pool())
                .await;
            match found {
                Err(error) if retries > 0 && connection_lost(&error) => retries -= 1,
                found => break found?,
            }
        };
        Ok(row.map(|r| decode_record(&r, &self.layout)).transpose()?)
    }

    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let mut q = sqlx::query::<DB>(AssertSqlSafe(self.queries.insert_user.as_str()))
            .bind(user.id.clone())
            .bind(user.name.clone())
            .bind(user.email.clone())
            .bind(user.email_verified)
            .bind(user.image.clone());
        q = bind_date!(q, self.dates.value(user.created_at));
        q = bind_date!(q, self.dates.value(user.updated_at));
        if self.admin_plugin {
            q = q
                .bind(user.role.clone())
                .bind(user.banned)
                .bind(user.ban_reason.clone());
            q = match user.ban_expires.map(|t| self.dates.value(t)) {
                Some(v) => bind_date!(q, v),
                None => match self.dates {
                    DateParam::Millis => q.bind(None::<i64>),
                    DateParam::IsoText => q.bind(None::<String>),
                },
            };
        }
        q.execute(self.pool()).await?;
        Ok(())
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut q = sqlx::query::<DB>(AssertSqlSafe(self.queries.insert_session.as_str()))
            .bind(session.id.clone())
            .bind(session.token.clone())
            .bind(session.user_id.clone());
        q = bind_date!(q, self.dates.value(session.expires_at));
        q = bind_date!(q, self.dates.value(session.created_at));
        q = bind_date!(q, self.dates.value(session.updated_at));
        q = q
            .bind(session.ip_address.clone())
            .bind(session.user_agent.clone());
        if self.admin_plugin {
            q = q.bind(session.impersonated_by.clone());
        }
        q.execute(self.pool()).await?;
        Ok(())
    }

    async fn delete_session(&self, token: &str) -> Result<bool, StoreError> {
        let result = sqlx::query::<DB>(AssertSqlSafe(self.queries.delete_session.as_str()))
            .bind(token.to_string())
            .execute(self.pool())
            .await?;
        Ok(DB::rows_affected(&result) > 0)
    }

    async fn list_user_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query::<DB>(AssertSqlSafe(self.queries.list_user_sessions.as_str()))
            .bind(user_id.to_string())
            .fetch_all(self.pool())
            .await?;
        let decode = |row| {
            let mut session = decode_session(row)?;
            session.additional = decode_fields(row, SESSION_COLUMNS, &self.layout.session_fields)?;
            Ok::<_, sqlx::Error>(session)
        };
        Ok(rows.iter().map(decode).collect::<Result<_, _>>()?)
    }

    async fn delete_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        // Tokens are never empty, so "" keeps nothing.
        let keep = keep.unwrap_or_default().to_string();
        let mut tx = self.pool().begin().await?;
        let tokens: Vec<String> = sqlx::query_scalar::<DB, String>(AssertSqlSafe(
            self.queries.user_tokens_except.as_str(),
        ))
        .bind(user_id.to_string())
        .bind(keep.clone())
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query::<DB>(AssertSqlSafe(
            self.queries.delete_user_sessions_except.as_str(),
        ))
        .bind(user_id.to_string())
        .bind(keep)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(tokens)
    }

    async fn refresh_session(
        &self,
        token: &str,
        expected: Timestamp,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut q = sqlx::query::<DB>(AssertSqlSafe(self.queries.refresh_session.as_str()));
        q = bind_date!(q, self.dates.value(expires_at));
        q = bind_date!(q, self.dates.value(now));
        let result = q
            .bind(token.to_string())
            .bind(expected.millis())
            .execute(self.pool())
            .await?;
        Ok(DB::rows_affected(&result) > 0)
    }

    async fn delete_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let result = sqlx::query::<DB>(AssertSqlSafe(self.queries.delete_expired.as_str()))
            .bind(now.millis())
            .execute(self.pool())
            .await?;
        Ok(DB::rows_affected(&result))
    }

    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        let count: i64 =
            sqlx::query_scalar::<DB, i64>(AssertSqlSafe(self.queries.count_active.as_str()))
                .bind(now.millis())
                .fetch_one(self.pool())
                .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn search_sessions(&self, search: &SessionSearch) -> Result<SessionPage, StoreError> {
        let sql = self.queries.search_sql(search);
        // Unprepared: PostgreSQL then plans each search with its own patterns. A cached generic
        // plan walks the sort index past every row for a selective search (seconds on 1M rows).
        let count = sqlx::query_scalar::<DB, i64>(AssertSqlSafe(sql.count)).persistent(false);
        let total: i64 = bind_all!(count, &sql.count_binds)
            .fetch_one(self.pool())
            .await?;
        let page = sqlx::query::<DB>(AssertSqlSafe(sql.page)).persistent(false);
        let rows = bind_all!(page, &sql.page_binds)
            .fetch_all(self.pool())
            .await?;
        let sessions = rows
            .iter()
            .map(|r| decode_record(r, &self.layout))
            .collect::<Result<_, _>>()?;
        Ok(SessionPage {
            total: u64::try_from(total).unwrap_or(0),
            sessions,
        })
    }

    async fn find_session_by_id(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query::<DB>(AssertSqlSafe(self.queries.find_session_by_id.as_str()))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| decode_record(&r, &self.layout)).transpose()?)
    }

    async fn session_stats(&self, now: Timestamp) -> Result<SessionStats, StoreError> {
        let [counts, top, ips] = self.queries.stats_sql();
        let now = now.millis();
        let row = sqlx::query::<DB>(AssertSqlSafe(counts))
            .bind(now)
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        let count = |i: usize| {
            row.try_get::<i64, _>(i)
                .map(|n| u64::try_from(n).unwrap_or(0))
        };
        let (total, active, users_with_sessions) = (count(0)?, count(1)?, count(2)?);
        let top_rows = sqlx::query::<DB>(AssertSqlSafe(top))
            .bind(now)
            .fetch_all(self.pool())
            .await?;
        let top_users = top_rows
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>(UserCount {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    email: r.try_get(2)?,
                    sessions: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                })
            })
            .collect::<Result<_, _>>()?;
        let ip_rows = sqlx::query::<DB>(AssertSqlSafe(ips))
            .bind(now)
            .fetch_all(self.pool())
            .await?;
        let ips = ip_rows
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>((
                    r.try_get(0)?,
                    u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0),
                ))
            })
            .collect::<Result<_, _>>()?;
        Ok(SessionStats {
            total,
            active,
            users_with_sessions,
            top_users,
            ips,
        })
    }

    async fn sample_user_ids(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar::<DB, String>(AssertSqlSafe(self.queries.sample_user_ids.as_str()))
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await?,
        )
    }

    async fn insert_account(&self, account: &Account) -> Result<(), StoreError> {
        let mut q = sqlx::query::<DB>(AssertSqlSafe(self.queries.insert_account.as_str()))
            .bind(account.id.clone())
            .bind(account.account_id.clone())
            .bind(account.provider_id.clone())
            .bind(account.user_id.clone());
        q = bind_date!(q, self.dates.value(account.created_at));
        q = bind_date!(q, self.dates.value(account.updated_at));
        q.execute(self.pool()).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query::<DB>("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_connection_gone_makes_a_lookup_try_again() {
        for sqlstate in ["08006", "08S01", "57P01", "57P02", "57P03"] {
            assert!(connection_ended(sqlstate), "{sqlstate}");
        }
        for sqlstate in ["57014", "23505", "42P01", "40001"] {
            assert!(!connection_ended(sqlstate), "{sqlstate}");
        }
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(connection_lost(&sqlx::Error::Io(reset)));
        // A pool that could not connect within its timeout already waited: no second wait.
        assert!(!connection_lost(&sqlx::Error::PoolTimedOut));
        assert!(!connection_lost(&sqlx::Error::RowNotFound));
    }
}
