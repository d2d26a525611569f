//! Revocation notices from PostgreSQL: an optional trigger (installed only by
//! `gatehouse migrate --notify-trigger`, the one schema addition Gatehouse ever makes) sends
//! `NOTIFY` when a session row is deleted or a user's ban changes, and [`NoticeListener`]
//! receives them on a dedicated connection, reconnecting when it drops.

use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgListener, Postgres};

use super::sql_store::postgres_options;
use super::StoreError;
use crate::config::SchemaConfig;

/// Channel for deleted sessions; the payload is the session token.
pub(crate) const SESSION_CHANNEL: &str = "gatehouse_session_deleted";
/// Channel for users whose ban changed or who were deleted; the payload is the user id.
pub(crate) const USER_CHANNEL: &str = "gatehouse_user_changed";

/// Something the database told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// This session's row is gone.
    SessionDeleted(String),
    /// This user was banned, unbanned or deleted.
    UserChanged(String),
    /// The connection dropped and came back: notices may have been missed.
    Reconnected,
}

/// The trigger SQL for `schema` (idempotent: safe to run twice).
pub(crate) fn trigger_sql(schema: &SchemaConfig) -> String {
    let q = |s: &str| format!("\"{s}\"");
    let col = |key: &str| q(&schema.columns[key]);
    let (session, user) = (q(&schema.session_table), q(&schema.user_table));
    let ban_change = if schema.admin_plugin {
        format!(
            "OLD.{b} IS DISTINCT FROM NEW.{b} OR OLD.{e} IS DISTINCT FROM NEW.{e}",
            b = col("user.banned"),
            e = col("user.banExpires")
        )
    } else {
        "false".to_string()
    };
    format!(
        r#"CREATE OR REPLACE FUNCTION gatehouse_session_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{SESSION_CHANNEL}', OLD.{token});
  RETURN OLD;
END $$;
DROP TRIGGER IF EXISTS gatehouse_session_deleted ON {session};
CREATE TRIGGER gatehouse_session_deleted AFTER DELETE ON {session}
  FOR EACH ROW EXECUTE FUNCTION gatehouse_session_deleted();
CREATE OR REPLACE FUNCTION gatehouse_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('{USER_CHANNEL}', OLD.{user_id});
  ELSIF {ban_change} THEN
    PERFORM pg_notify('{USER_CHANNEL}', NEW.{user_id});
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS gatehouse_user_changed ON {user};
CREATE TRIGGER gatehouse_user_changed AFTER UPDATE OR DELETE ON {user}
  FOR EACH ROW EXECUTE FUNCTION gatehouse_user_changed();
"#,
        token = col("session.token"),
        user_id = col("user.id"),
    )
}

/// Installs the notification trigger in the PostgreSQL database at `url`.
pub(crate) async fn install_trigger(url: &str, schema: &SchemaConfig) -> Result<(), StoreError> {
    let options = postgres_options(url).map_err(|e| StoreError::Url(e.to_string()))?;
    let pool = PoolOptions::<Postgres>::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(trigger_sql(schema)))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// A dedicated `LISTEN` connection that re-establishes itself.
pub(crate) struct NoticeListener {
    url: String,
    listener: PgListener,
}

/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl NoticeListener {
    /// Connects to `url` and listens on both channels.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            url: url.to_owned(),
            listener: listen(url).await?,
        })
    }

    /// The next notice. When the connection drops, reconnects (retrying with backoff) and
    /// reports [`Notice::Reconnected`] once it is listening again, so that whatever was cached
    /// while notices could be missed can be dropped with nothing missed after that.
    pub(crate) async fn next(&mut self) -> Notice {
        match self.listener.try_recv().await {
            Ok(Some(n)) if n.channel() == SESSION_CHANNEL => {
                Notice::SessionDeleted(n.payload().to_owned())
            }
            Ok(Some(n)) => Notice::UserChanged(n.payload().to_owned()),
            Ok(None) | Err(_) => {
                self.reconnect().await;
                Notice::Reconnected
            }
        }
    }

    async fn reconnect(&mut self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen(&self.url).await {
                Ok(listener) => {
                    self.listener = listener;
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "revocation notices: reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

async fn listen(url: &str) -> Result<PgListener, StoreError> {
    let options = postgres_options(url).map_err(|e| StoreError::Url(e.to_string()))?;
    let pool = PoolOptions::<Postgres>::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options);
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen_all([SESSION_CHANNEL, USER_CHANNEL]).await?;
    Ok(listener)
}
