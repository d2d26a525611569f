//! `gatehouse migrate`: creates Better Auth 1.7's schema (with the admin plugin's columns) from
//! the SQL files under `migrations/<dialect>/`, embedded in the binary.
//!
//! This is for development and tests. Better Auth owns these tables; `serve` never alters them.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::pool::PoolOptions;
use sqlx::{MySql, Postgres, SqlSafeStr, Sqlite};

use super::sql_store::{mysql_options, postgres_options, sqlite_options};
use super::StoreError;
use crate::config::DatabaseKind;

const SQLITE: &str = include_str!("../../migrations/sqlite/0001_better_auth.sql");
const POSTGRES: &str = include_str!("../../migrations/postgres/0001_better_auth.sql");
const MYSQL: &str = include_str!("../../migrations/mysql/0001_better_auth.sql");

/// The table that records which of Gatehouse's migrations ran.
const MIGRATIONS_TABLE: &str = "_gatehouse_migrations";

fn migrator(sql: &'static str) -> Migrator {
    let mut migrator = Migrator::with_migrations(vec![Migration::new(
        1,
        Cow::Borrowed("better_auth"),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )]);
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// Applies the embedded migrations for the database at `url`, creating a SQLite file (and its
/// directory) if needed. Safe to run twice.
pub async fn run(url: &str) -> Result<(), StoreError> {
    let bad_url = |e: sqlx::Error| StoreError::Url(e.to_string());
    let migrate_err = |e: sqlx::migrate::MigrateError| StoreError::Database(e.into());
    match DatabaseKind::of(url) {
        Some(DatabaseKind::Sqlite) => {
            let options = sqlite_options(url, true).map_err(bad_url)?;
            if let Some(dir) = options
                .get_filename()
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Url(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let pool = PoolOptions::<Sqlite>::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            migrator(SQLITE).run(&pool).await.map_err(migrate_err)?;
            pool.close().await;
        }
        Some(DatabaseKind::Postgres) => {
            let pool = PoolOptions::<Postgres>::new()
                .max_connections(1)
                .connect_with(postgres_options(url).map_err(bad_url)?)
                .await?;
            migrator(POSTGRES).run(&pool).await.map_err(migrate_err)?;
            pool.close().await;
        }
        Some(DatabaseKind::MySql) => {
            let pool = PoolOptions::<MySql>::new()
                .max_connections(1)
                .connect_with(mysql_options(url).map_err(bad_url)?)
                .await?;
            migrator(MYSQL).run(&pool).await.map_err(migrate_err)?;
            pool.close().await;
        }
        None => return Err(StoreError::Url("unsupported scheme".into())),
    }
    Ok(())
}
