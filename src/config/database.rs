//! `[database]` and `[cache]`: where Better Auth's tables are, how their columns are named and how
//! dates are stored, and the in-process session cache.

use super::*;

/// How to reach the database and read Better Auth's tables.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub schema: SchemaConfig,
}

/// Which layout wrote the `user` and `session` tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaConfig {
    pub user_table: String,
    pub session_table: String,
    pub account_table: String,
    /// The organization plugin's `member` table, when a route checks `organization_roles`: the
    /// active organization's member role is then read with each session.
    pub member_table: Option<String>,
    /// Column names by Better Auth field name (`session.expiresAt` -> `expires_at`).
    pub columns: BTreeMap<String, String>,
    /// The admin plugin's columns (`role`, `banned`, `banReason`, `banExpires`, `impersonatedBy`).
    pub admin_plugin: bool,
    pub sqlite_dates: SqliteDates,
    /// Extra `user` columns to read, for `headers.user_columns`.
    pub extra_user_columns: Vec<String>,
    /// Additional and plugin fields to read (`better_auth.additional_fields`).
    pub additional_fields: AdditionalFields,
}

/// How dates are stored in SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteDates {
    /// ISO-8601 text with milliseconds (Better Auth's own Kysely adapter).
    Iso,
    /// Integer milliseconds since the epoch (Drizzle's `timestamp_ms`).
    EpochMillis,
}

/// The moka session cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub max_entries: u64,
    pub max_staleness: Duration,
    pub negative_ttl: Duration,
}

/// The session and user fields Gatehouse reads, by Better Auth name.
pub const SESSION_FIELDS: &[&str] = &[
    "id",
    "token",
    "userId",
    "expiresAt",
    "createdAt",
    "updatedAt",
    "ipAddress",
    "userAgent",
    "impersonatedBy",
];

/// The `account` fields Gatehouse writes when seeding, by Better Auth name.
pub const ACCOUNT_FIELDS: &[&str] = &[
    "id",
    "accountId",
    "providerId",
    "userId",
    "createdAt",
    "updatedAt",
];

/// The organization plugin's `member` fields Gatehouse reads, by Better Auth name.
pub const MEMBER_FIELDS: &[&str] = &["organizationId", "userId", "role"];

/// See [`SESSION_FIELDS`].
pub const USER_FIELDS: &[&str] = &[
    "id",
    "name",
    "email",
    "emailVerified",
    "image",
    "createdAt",
    "updatedAt",
    "role",
    "banned",
    "banReason",
    "banExpires",
];

pub(super) fn database(
    d: &file::DatabaseSection,
    headers: &HeadersConfig,
    additional_fields: &AdditionalFields,
    read_member_roles: bool,
) -> Result<DatabaseConfig, ConfigError> {
    let url = d
        .url
        .clone()
        .unwrap_or_else(|| "sqlite://data/gatehouse.db".into());
    if DatabaseKind::of(&url).is_none() {
        return Err(ConfigError::new(
            "database.url",
            "must start with sqlite://, postgres://, postgresql:// or mysql:// (GATEHOUSE_DATABASE_URL or DATABASE_URL)",
        ));
    }
    if d.max_connections == 0 {
        return Err(ConfigError::new(
            "database.max_connections",
            "must be at least 1",
        ));
    }
    let s = &d.schema;
    let snake = match s.naming.as_str() {
        "camelCase" => false,
        "snake_case" => true,
        other => {
            return Err(ConfigError::new(
                "database.schema.naming",
                format!("`{other}` is not one of camelCase (Better Auth's migrator, Prisma) or snake_case (Drizzle's default)"),
            ))
        }
    };
    let sqlite_dates = match s.sqlite_dates.as_str() {
        "iso" => SqliteDates::Iso,
        "epoch_ms" => SqliteDates::EpochMillis,
        other => {
            return Err(ConfigError::new(
                "database.schema.sqlite_dates",
                format!(
                "`{other}` is not one of iso (Better Auth's Kysely adapter) or epoch_ms (Drizzle)"
            ),
            ))
        }
    };
    let mut columns = BTreeMap::new();
    for (table, fields) in [
        ("session", SESSION_FIELDS),
        ("user", USER_FIELDS),
        ("account", ACCOUNT_FIELDS),
        ("member", MEMBER_FIELDS),
    ] {
        for field in fields.iter() {
            let column = if snake {
                to_snake_case(field)
            } else {
                field.to_string()
            };
            columns.insert(format!("{table}.{field}"), column);
        }
    }
    for (key, column) in &s.columns {
        if !columns.contains_key(key) {
            return Err(ConfigError::new(
                format!("database.schema.columns.\"{key}\""),
                "unknown field; write `session.<field>` or `user.<field>` with a Better Auth field name such as session.expiresAt",
            ));
        }
        identifier(&format!("database.schema.columns.\"{key}\""), column)?;
        columns.insert(key.clone(), column.clone());
    }
    Ok(DatabaseConfig {
        url: Secret(url),
        max_connections: d.max_connections,
        acquire_timeout: nonzero(
            "database.acquire_timeout",
            duration("database.acquire_timeout", &d.acquire_timeout)?,
        )?,
        schema: SchemaConfig {
            user_table: identifier("database.schema.user_table", &s.user_table)?,
            session_table: identifier("database.schema.session_table", &s.session_table)?,
            account_table: identifier("database.schema.account_table", &s.account_table)?,
            member_table: read_member_roles
                .then(|| identifier("database.schema.member_table", &s.member_table))
                .transpose()?,
            columns,
            admin_plugin: s.admin_plugin,
            sqlite_dates,
            extra_user_columns: headers
                .user_columns
                .iter()
                .map(|(_, c)| c.clone())
                .collect(),
            additional_fields: additional_fields.clone(),
        },
    })
}

/// The database a URL names, from its scheme; it decides the SQL dialect and what `migrate` can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
    MySql,
}

impl DatabaseKind {
    /// The kind a URL's scheme names (`sqlite:`, `postgres:`/`postgresql:`, `mysql:`/`mariadb:`).
    pub fn of(url: &str) -> Option<Self> {
        match url.split(':').next().unwrap_or_default() {
            "sqlite" => Some(Self::Sqlite),
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::MySql),
            _ => None,
        }
    }

    /// Its name in logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }
}

pub(super) fn to_snake_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 4);
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub(super) fn cache(c: &file::CacheSection) -> Result<CacheConfig, ConfigError> {
    if c.max_entries == 0 {
        return Err(ConfigError::new("cache.max_entries", "must be at least 1"));
    }
    Ok(CacheConfig {
        max_entries: c.max_entries,
        max_staleness: nonzero(
            "cache.max_staleness",
            duration("cache.max_staleness", &c.max_staleness)?,
        )?,
        negative_ttl: duration("cache.negative_ttl", &c.negative_ttl)?,
    })
}
