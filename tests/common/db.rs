//! Test databases: a migrated SQLite file, or a fresh PostgreSQL / MariaDB database created from
//! the admin URL in `GATEHOUSE_TEST_POSTGRES_URL` / `GATEHOUSE_TEST_MYSQL_URL` and dropped after.

use std::sync::Arc;
use std::time::Duration;

use gatehouse::config::{parse_toml, Config, MapEnv};
use gatehouse::session::{Session, User};
use gatehouse::store::{self, SessionStore};
use gatehouse::time::Timestamp;
use sqlx::{AssertSqlSafe, Connection};

use super::{random_token, require_or_skip, SECRET};

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

/// A database that lives as long as the test.
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database of `kind` with Better Auth's schema, or `None` when that server is not
    /// configured outside CI.
    pub async fn migrated(kind: Kind) -> Option<Self> {
        let db = Self::empty(kind).await?;
        store::migrate::run(&db.url).await.unwrap();
        Some(db)
    }

    /// A fresh database with no tables.
    pub async fn empty(kind: Kind) -> Option<Self> {
        let name = format!("gh_{}", random_token());
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("gatehouse.db").display()
                );
                sqlx::SqliteConnection::connect(&url)
                    .await
                    .unwrap()
                    .close()
                    .await
                    .unwrap();
                Some(Self {
                    kind,
                    url,
                    admin: None,
                    _dir: Some(dir),
                })
            }
            Kind::Postgres => {
                let admin = require_or_skip("GATEHOUSE_TEST_POSTGRES_URL")?;
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Some(Self {
                    kind,
                    url: with_database(&admin, &name),
                    admin: Some((admin, name)),
                    _dir: None,
                })
            }
            Kind::MySql => {
                let admin = require_or_skip("GATEHOUSE_TEST_MYSQL_URL")?;
                let mut conn = sqlx::MySqlConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Some(Self {
                    kind,
                    url: with_database(&admin, &name),
                    admin: Some((admin, name)),
                    _dir: None,
                })
            }
        }
    }

    /// Runs `gatehouse migrate <flags>` on this database and asserts it succeeded.
    pub fn migrate_with(&self, flags: &[&str]) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("migrate")
            .args(flags)
            .args(["--database-url", &self.url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs SQL statements directly (as the app or an operator would).
    pub async fn exec(&self, sql: &str) {
        let sql = AssertSqlSafe(sql.to_string());
        match self.kind {
            Kind::Sqlite => sqlx::raw_sql(sql)
                .execute(&mut sqlx::SqliteConnection::connect(&self.url).await.unwrap())
                .await
                .map(|_| ()),
            Kind::Postgres => sqlx::raw_sql(sql)
                .execute(&mut sqlx::PgConnection::connect(&self.url).await.unwrap())
                .await
                .map(|_| ()),
            Kind::MySql => sqlx::raw_sql(sql)
                .execute(&mut sqlx::MySqlConnection::connect(&self.url).await.unwrap())
                .await
                .map(|_| ()),
        }
        .unwrap();
    }

    /// The single integer a query returns (`SELECT COUNT(*) ...`).
    pub async fn count(&self, sql: &str) -> i64 {
        let sql = AssertSqlSafe(sql.to_string());
        match self.kind {
            Kind::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
            }
            Kind::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
            }
            Kind::MySql => {
                let mut c = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
            }
        }
    }

    /// A store on this database with `schema_toml` as the `[database.schema]` section body.
    pub fn store(&self, schema_toml: &str) -> Arc<dyn SessionStore> {
        store_at(&self.url, schema_toml)
    }

    /// Seeds a user and a session with `token` expiring `ttl_secs` from now (negative: expired).
    /// Returns (user id, session id).
    pub async fn seed(&self, token: &str, ttl_secs: i64) -> (String, String) {
        super::remember_token(token);
        let store = self.store("");
        let now = Timestamp::now();
        let user = user(&format!("u{}", &token[..8.min(token.len())]), now);
        store.insert_user(&user).await.unwrap();
        let session = session(
            token,
            &user.id,
            Timestamp::from_millis(now.millis() + ttl_secs * 1000),
            now,
        );
        store.insert_session(&session).await.unwrap();
        (user.id, session.id)
    }
}

/// A user named after its id.
pub fn user(id: &str, now: Timestamp) -> User {
    User {
        id: id.into(),
        name: format!("Name of {id}"),
        email: format!("{id}@example.com"),
        email_verified: true,
        image: None,
        created_at: now,
        updated_at: now,
        role: Some("user".into()),
        banned: Some(false),
        ban_reason: None,
        ban_expires: None,
        extra: Vec::new(),
        additional: Vec::new(),
    }
}

/// A session for `user_id`.
pub fn session(token: &str, user_id: &str, expires_at: Timestamp, now: Timestamp) -> Session {
    Session {
        id: format!("s{}", random_token()),
        token: token.into(),
        user_id: user_id.into(),
        expires_at,
        created_at: now,
        updated_at: now,
        ip_address: Some("203.0.113.7".into()),
        user_agent: Some("test".into()),
        impersonated_by: None,
        additional: Vec::new(),
        active_member_role: None,
    }
}

fn with_database(admin_url: &str, name: &str) -> String {
    let (server, _) = admin_url.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.admin.take() else {
            return;
        };
        let kind = self.kind;
        // Drop runs inside the test's runtime; use a thread with its own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let drop = async {
                    match kind {
                        Kind::Postgres => {
                            let mut c = sqlx::PgConnection::connect(&admin).await?;
                            sqlx::raw_sql(AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&mut c)
                            .await?;
                        }
                        Kind::MySql => {
                            let mut c = sqlx::MySqlConnection::connect(&admin).await?;
                            sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                                .execute(&mut c)
                                .await?;
                        }
                        Kind::Sqlite => {}
                    }
                    Ok::<_, sqlx::Error>(())
                };
                if let Err(e) = tokio::time::timeout(Duration::from_secs(10), drop).await {
                    eprintln!("could not drop test database {name}: {e}");
                }
            });
        })
        .join()
        .ok();
    }
}

/// A store on the database at `url` with `schema_toml` as the `[database.schema]` section body.
pub fn store_at(url: &str, schema_toml: &str) -> Arc<dyn SessionStore> {
    let toml = format!("[database]\nurl = \"{url}\"\n[database.schema]\n{schema_toml}\n");
    let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", SECRET)]);
    let config = Config::from_file(parse_toml(&toml).unwrap(), &env).unwrap();
    store::open(&config.database).unwrap()
}
