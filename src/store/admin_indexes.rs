//! `gatehouse migrate --admin-indexes`: the PostgreSQL indexes that make the sessions admin's
//! searches and pages fast on millions of sessions (measured in `benches/admin/`).
//!
//! Trigram (`pg_trgm`) GIN indexes serve `LIKE '%term%'` on the columns a search reads: the
//! session's id and IP (one branch of the search) and the user's id and e-mail (the other).
//! B-tree indexes on the three dates serve sorted pages and the status filter, and a covering
//! index on the session's user serves the user side of a search without reading the table.
//! Every statement is idempotent and `CONCURRENTLY`, so Better Auth keeps writing while they
//! build; nothing else in the schema changes.

use sqlx::pool::PoolOptions;
use sqlx::Postgres;

use super::sql_store::postgres_options;
use super::StoreError;
use crate::config::SchemaConfig;

/// The statements, in order. `CONCURRENTLY` cannot run in a transaction, so each is sent alone.
pub(crate) fn index_statements(schema: &SchemaConfig) -> Vec<String> {
    let q = |s: &str| format!("\"{s}\"");
    let col = |key: &str| q(&schema.columns[key]);
    let (session, user) = (q(&schema.session_table), q(&schema.user_table));
    let trigram = |name: &str, table: &str, column: String| {
        format!(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )
    };
    let btree = |name: &str, column: String| {
        format!("CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {session} ({column})")
    };
    vec![
        "CREATE EXTENSION IF NOT EXISTS pg_trgm".to_string(),
        trigram("gatehouse_session_id_trgm", &session, col("session.id")),
        trigram(
            "gatehouse_session_ip_trgm",
            &session,
            col("session.ipAddress"),
        ),
        trigram("gatehouse_user_id_trgm", &user, col("user.id")),
        trigram("gatehouse_user_email_trgm", &user, col("user.email")),
        btree("gatehouse_session_expires_idx", col("session.expiresAt")),
        btree("gatehouse_session_created_idx", col("session.createdAt")),
        btree("gatehouse_session_updated_idx", col("session.updatedAt")),
        // A user's sessions with every column a search filters or sorts them by: a broad
        // e-mail search (many users) then reads this index alone, not one table page per session.
        format!(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS gatehouse_session_user_cover ON {session} ({}) \
             INCLUDE ({}, {}, {}, {}, {})",
            col("session.userId"),
            col("session.id"),
            col("session.expiresAt"),
            col("session.createdAt"),
            col("session.updatedAt"),
            col("session.ipAddress"),
        ),
    ]
}

/// Creates the indexes in the PostgreSQL database at `url`. Safe to run twice.
pub(crate) async fn install(url: &str, schema: &SchemaConfig) -> Result<(), StoreError> {
    let options = postgres_options(url).map_err(|e| StoreError::Url(e.to_string()))?;
    let pool = PoolOptions::<Postgres>::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    for statement in index_statements(schema) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await?;
    }
    pool.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, MapEnv};

    #[test]
    fn renamed_tables_and_columns_are_indexed_by_their_real_names() {
        let file = crate::config::parse_toml(
            "[database.schema]\nsession_table = \"sessions\"\nnaming = \"snake_case\"\n",
        )
        .unwrap();
        let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
        let schema = Config::from_file(file, &env).unwrap().database.schema;
        let sql = index_statements(&schema).join(";\n");
        assert!(
            sql.contains(r#"ON "sessions" USING gin ("ip_address" gin_trgm_ops)"#),
            "{sql}"
        );
        assert!(sql.contains(r#"ON "sessions" ("expires_at")"#), "{sql}");
        assert!(
            sql.contains(r#"ON "user" USING gin ("email" gin_trgm_ops)"#),
            "{sql}"
        );
    }
}
