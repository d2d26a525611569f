//! The SQL Gatehouse runs, built once at startup from the configured schema for one dialect.
//!
//! Dates come back from every database as BIGINT milliseconds, whatever the column type
//! (`timestamptz`, `timestamp`, `timestamp(3)`, ISO text or epoch integers in SQLite), so one
//! decoder serves all three. Identifiers were validated as `[A-Za-z0-9_]` by the config, so
//! quoting them is safe.

use crate::config::{AdditionalField, FieldType, SchemaConfig, SqliteDates};

/// Column names, quoted, as the session listing (`session_listing`) needs them.
#[derive(Debug, Clone)]
pub(crate) struct ListingColumns {
    pub(crate) session_id: String,
    pub(crate) user_id: String,
    pub(crate) email: String,
    pub(crate) ip: String,
    pub(crate) expires_at: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) user_pk: String,
    pub(crate) name: String,
    pub(crate) session_table: String,
}

/// A SQL dialect and its date storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite(SqliteDates),
    Postgres,
    MySql,
}

/// How a date parameter is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateParam {
    /// An `i64` of epoch milliseconds.
    Millis,
    /// ISO-8601 text with milliseconds.
    IsoText,
}

impl Dialect {
    pub(crate) fn quote(self, ident: &str) -> String {
        match self {
            Dialect::MySql => format!("`{ident}`"),
            _ => format!("\"{ident}\""),
        }
    }

    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            _ => "?".to_string(),
        }
    }

    /// An expression giving `column` (a date) as BIGINT epoch milliseconds.
    pub(crate) fn millis(self, column: &str) -> String {
        match self {
            // extract(epoch) reads `timestamp` as UTC and `timestamptz` as the instant it is.
            Dialect::Postgres => format!("CAST(EXTRACT(EPOCH FROM {column}) * 1000 AS BIGINT)"),
            // UNIX_TIMESTAMP reads TIMESTAMP as stored (UTC) and DATETIME in the session zone,
            // which sqlx sets to +00:00.
            Dialect::MySql => format!("CAST(ROUND(UNIX_TIMESTAMP({column}) * 1000) AS SIGNED)"),
            // Either layout can be read, whatever `sqlite_dates` says.
            Dialect::Sqlite(_) => format!(
                "CASE typeof({column}) WHEN 'integer' THEN {column} WHEN 'real' THEN CAST({column} AS INTEGER) \
                 WHEN 'null' THEN NULL ELSE CAST(strftime('%s', {column}) AS INTEGER) * 1000 \
                 + CAST(substr(strftime('%f', {column}), 4) AS INTEGER) END"
            ),
        }
    }

    /// `column <op> p`, with `p` bound as epoch milliseconds. On PostgreSQL and MySQL the column is
    /// compared as stored, so an index on it can serve the condition.
    pub(crate) fn compare_date(self, column: &str, op: &str, p: &str) -> String {
        match self {
            // A SQLite column may hold ISO text or integers; compare them as milliseconds.
            Dialect::Sqlite(_) => format!("{} {op} {p}", self.millis(column)),
            _ => format!("{column} {op} {}", self.date_value(p)),
        }
    }

    /// An expression turning placeholder `p` (bound as [`Self::date_param`]) into a column value.
    fn date_value(self, p: &str) -> String {
        match self {
            // Integer arithmetic, so no millisecond is lost to floating point.
            Dialect::Postgres => {
                format!("(TIMESTAMPTZ 'epoch' + CAST({p} AS BIGINT) * INTERVAL '1 millisecond')")
            }
            Dialect::MySql => format!("FROM_UNIXTIME({p} / 1000)"),
            Dialect::Sqlite(_) => p.to_string(),
        }
    }

    /// How date parameters are bound.
    pub(crate) fn date_param(self) -> DateParam {
        match self {
            Dialect::Sqlite(SqliteDates::Iso) => DateParam::IsoText,
            _ => DateParam::Millis,
        }
    }

    fn text(self, column: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST({column} AS TEXT)"),
            Dialect::MySql => format!("CAST({column} AS CHAR)"),
            Dialect::Sqlite(_) => format!("CAST({column} AS TEXT)"),
        }
    }
}

/// The statements of a store, with their column order documented where it matters.
#[derive(Debug, Clone)]
pub(crate) struct Queries {
    /// The dialect these statements are written in.
    pub(crate) dialect: Dialect,
    /// The select list of a record: session columns, user columns, extra user columns, the
    /// user's and the session's additional fields, then (organization plugin) the member role.
    pub(crate) record_select: String,
    /// `FROM <session> s JOIN <user> u ON ...`, for statements that read records.
    pub(crate) record_from: String,
    /// One row: session columns, then user columns, then extra user columns; `$1` = token.
    pub(crate) find_session: String,
    /// Session columns, then the session's additional fields, of every session of user `$1`.
    pub(crate) list_user_sessions: String,
    /// Tokens of user `$1`'s sessions other than token `$2`.
    pub(crate) user_tokens_except: String,
    /// Deletes user `$1`'s sessions other than token `$2`.
    pub(crate) delete_user_sessions_except: String,
    /// Binds: id, name, email, emailVerified, image, createdAt, updatedAt
    /// [, role, banned, banReason, banExpires].
    pub(crate) insert_user: String,
    /// Binds: id, token, userId, expiresAt, createdAt, updatedAt, ipAddress, userAgent
    /// [, impersonatedBy].
    pub(crate) insert_session: String,
    /// `$1` = token.
    pub(crate) delete_session: String,
    /// Binds: new expiresAt, new updatedAt, token, expected expiresAt (epoch ms). Matches no row
    /// when another writer refreshed first, so a refresh is written once.
    pub(crate) refresh_session: String,
    /// Deletes at most `BATCH` sessions whose expiresAt (epoch ms) is before `$1`.
    pub(crate) delete_expired: String,
    /// Counts sessions whose expiresAt (epoch ms) is after `$1`.
    pub(crate) count_active: String,
    /// One record by session id `$1`.
    pub(crate) find_session_by_id: String,
    /// Up to `$1` user ids, at random.
    pub(crate) sample_user_ids: String,
    /// Binds: id, accountId, providerId, userId, createdAt, updatedAt.
    pub(crate) insert_account: String,
    /// Column names for the session listing.
    pub(crate) listing: ListingColumns,
}

/// The session columns at the start of [`Queries::find_session`] and in
/// [`Queries::list_user_sessions`].
pub(crate) const SESSION_COLUMNS: usize = 9;
/// The user columns of [`Queries::find_session`], before the extra ones.
pub(crate) const USER_COLUMNS: usize = 11;
/// How many expired sessions one cleanup statement deletes at most.
pub(crate) const EXPIRED_BATCH: u32 = 500;

impl Queries {
    /// Builds every statement for `schema` in `dialect`.
    pub(crate) fn build(schema: &SchemaConfig, dialect: Dialect) -> Self {
        let q = |s: &str| dialect.quote(s);
        let col = |key: &str| q(&schema.columns[key]);
        let s_col = |f: &str| format!("s.{}", col(&format!("session.{f}")));
        let u_col = |f: &str| format!("u.{}", col(&format!("user.{f}")));
        let p = |n: usize| dialect.placeholder(n);
        let admin = |expr: String| {
            if schema.admin_plugin {
                expr
            } else {
                "NULL".to_string()
            }
        };

        let session_select = [
            s_col("id"),
            s_col("token"),
            s_col("userId"),
            dialect.millis(&s_col("expiresAt")),
            dialect.millis(&s_col("createdAt")),
            dialect.millis(&s_col("updatedAt")),
            s_col("ipAddress"),
            s_col("userAgent"),
            admin(s_col("impersonatedBy")),
        ]
        .join(", ");
        let mut user_select = vec![
            u_col("id"),
            u_col("name"),
            u_col("email"),
            u_col("emailVerified"),
            u_col("image"),
            dialect.millis(&u_col("createdAt")),
            dialect.millis(&u_col("updatedAt")),
            admin(u_col("role")),
            admin(u_col("banned")),
            admin(u_col("banReason")),
            admin(dialect.millis(&u_col("banExpires"))),
        ];
        user_select.extend(
            schema
                .extra_user_columns
                .iter()
                .map(|c| dialect.text(&format!("u.{}", q(c)))),
        );
        // Additional fields: the user's, then the session's (see `RecordLayout`).
        let field = |alias: &str, f: &AdditionalField| {
            let column = format!("{alias}.{}", q(&f.column));
            match f.field_type {
                FieldType::Date => dialect.millis(&column),
                _ => dialect.text(&column),
            }
        };
        let fields = &schema.additional_fields;
        user_select.extend(fields.user.iter().map(|f| field("u", f)));
        user_select.extend(fields.session.iter().map(|f| field("s", f)));
        // Organization plugin: the member role in the active organization (see `RecordLayout`).
        if let Some(member) = &schema.member_table {
            let active = fields
                .session
                .iter()
                .find(|f| f.name == "activeOrganizationId")
                .map_or_else(|| q("activeOrganizationId"), |f| q(&f.column));
            user_select.push(format!(
                "(SELECT {} FROM {} m WHERE m.{} = s.{active} AND m.{} = s.{} LIMIT 1)",
                dialect.text(&format!("m.{}", col("member.role"))),
                q(member),
                col("member.organizationId"),
                col("member.userId"),
                col("session.userId"),
            ));
        }
        let (session_table, user_table) = (q(&schema.session_table), q(&schema.user_table));
        let (token, user_id, expires_at) = (
            col("session.token"),
            col("session.userId"),
            col("session.expiresAt"),
        );
        let record_select = format!("{session_select}, {}", user_select.join(", "));
        let record_from = format!(
            "FROM {session_table} s JOIN {user_table} u ON u.{} = s.{user_id}",
            col("user.id")
        );
        let find_session = format!(
            "SELECT {record_select} {record_from} WHERE s.{token} = {}",
            p(1)
        );

        let insert = |table: &str, fields: &[(&str, bool)]| {
            let names: Vec<String> = fields
                .iter()
                .map(|(f, _)| col(&format!("{table}.{f}")))
                .collect();
            let values: Vec<String> = fields
                .iter()
                .enumerate()
                .map(|(i, (_, is_date))| {
                    if *is_date {
                        dialect.date_value(&p(i + 1))
                    } else {
                        p(i + 1)
                    }
                })
                .collect();
            let table_name = if table == "user" {
                &user_table
            } else {
                &session_table
            };
            format!(
                "INSERT INTO {table_name} ({}) VALUES ({})",
                names.join(", "),
                values.join(", ")
            )
        };
        let mut user_fields = vec![
            ("id", false),
            ("name", false),
            ("email", false),
            ("emailVerified", false),
            ("image", false),
            ("createdAt", true),
            ("updatedAt", true),
        ];
        let mut session_fields = vec![
            ("id", false),
            ("token", false),
            ("userId", false),
            ("expiresAt", true),
            ("createdAt", true),
            ("updatedAt", true),
            ("ipAddress", false),
            ("userAgent", false),
        ];
        if schema.admin_plugin {
            user_fields.extend([
                ("role", false),
                ("banned", false),
                ("banReason", false),
                ("banExpires", true),
            ]);
            session_fields.push(("impersonatedBy", false));
        }
        let id = col("session.id");
        let random = if dialect == Dialect::MySql {
            "RAND()"
        } else {
            "RANDOM()"
        };
        let listing = ListingColumns {
            session_id: s_col("id"),
            user_id: s_col("userId"),
            email: u_col("email"),
            ip: s_col("ipAddress"),
            expires_at: s_col("expiresAt"),
            created_at: s_col("createdAt"),
            updated_at: s_col("updatedAt"),
            user_pk: u_col("id"),
            name: u_col("name"),
            session_table: session_table.clone(),
        };
        Queries {
            find_session_by_id: format!("SELECT {record_select} {record_from} WHERE s.{} = {}", col("session.id"), p(1)),
            sample_user_ids: format!(
                "SELECT {} FROM {user_table} ORDER BY {random} LIMIT {}",
                col("user.id"),
                p(1)
            ),
            insert_account: format!(
                "INSERT INTO {} ({}, {}, {}, {}, {}, {}) VALUES ({}, {}, {}, {}, {}, {})",
                q(&schema.account_table),
                col("account.id"),
                col("account.accountId"),
                col("account.providerId"),
                col("account.userId"),
                col("account.createdAt"),
                col("account.updatedAt"),
                p(1),
                p(2),
                p(3),
                p(4),
                dialect.date_value(&p(5)),
                dialect.date_value(&p(6)),
            ),
            listing,
            dialect,
            record_select,
            record_from,
            find_session,
            list_user_sessions: format!(
                "SELECT {session_select}{} FROM {session_table} s WHERE s.{user_id} = {}",
                fields
                    .session
                    .iter()
                    .map(|f| format!(", {}", field("s", f)))
                    .collect::<String>(),
                p(1)
            ),
            user_tokens_except: format!(
                "SELECT {token} FROM {session_table} WHERE {user_id} = {} AND {token} <> {}",
                p(1),
                p(2)
            ),
            delete_user_sessions_except: format!(
                "DELETE FROM {session_table} WHERE {user_id} = {} AND {token} <> {}",
                p(1),
                p(2)
            ),
            insert_user: insert("user", &user_fields),
            insert_session: insert("session", &session_fields),
            delete_session: format!("DELETE FROM {session_table} WHERE {token} = {}", p(1)),
            refresh_session: format!(
                "UPDATE {session_table} SET {expires_at} = {}, {} = {} WHERE {token} = {} AND {} = {}",
                dialect.date_value(&p(1)),
                col("session.updatedAt"),
                dialect.date_value(&p(2)),
                p(3),
                dialect.millis(&expires_at),
                p(4),
            ),
            count_active: format!(
                "SELECT COUNT(*) FROM {session_table} WHERE {} > {}",
                dialect.millis(&expires_at),
                p(1)
            ),
            // The derived table lets MySQL take a LIMIT inside IN.
            delete_expired: format!(
                "DELETE FROM {session_table} WHERE {id} IN (SELECT {id} FROM (SELECT {id} FROM {session_table} \
                 WHERE {} < {} LIMIT {EXPIRED_BATCH}) expired)",
                dialect.millis(&expires_at),
                p(1),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, MapEnv};

    fn schema(toml: &str) -> SchemaConfig {
        let file = crate::config::parse_toml(toml).unwrap();
        let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
        Config::from_file(file, &env).unwrap().database.schema
    }

    #[test]
    fn postgres_quotes_camel_case_and_numbers_placeholders() {
        let q = Queries::build(&schema(""), Dialect::Postgres);
        assert!(
            q.find_session.contains(
                r#"FROM "session" s JOIN "user" u ON u."id" = s."userId" WHERE s."token" = $1"#
            ),
            "{}",
            q.find_session
        );
        assert!(q
            .find_session
            .contains(r#"EXTRACT(EPOCH FROM s."expiresAt")"#));
        assert!(q.insert_session.ends_with("$9)"), "{}", q.insert_session);
        assert!(q
            .refresh_session
            .contains(r#"WHERE "token" = $3 AND CAST(EXTRACT(EPOCH FROM "expiresAt")"#));
    }

    #[test]
    fn mysql_uses_backticks_and_question_marks() {
        let q = Queries::build(&schema(""), Dialect::MySql);
        assert!(q.find_session.contains("FROM `session` s JOIN `user` u"));
        assert!(q.delete_session.ends_with("`token` = ?"));
    }

    #[test]
    fn snake_case_and_renames_apply() {
        let s = schema(
            "[database.schema]\nnaming = \"snake_case\"\nsession_table = \"auth_sessions\"\n\
             [database.schema.columns]\n\"session.token\" = \"session_token\"\n",
        );
        let q = Queries::build(&s, Dialect::Sqlite(SqliteDates::EpochMillis));
        assert!(q.find_session.contains(r#"FROM "auth_sessions" s"#));
        assert!(q.find_session.contains(r#"s."expires_at""#));
        assert!(q.find_session.contains(r#"WHERE s."session_token" = ?"#));
        assert!(q.insert_user.contains(r#""email_verified""#));
    }

    #[test]
    fn without_admin_plugin_its_columns_are_not_read() {
        let s = schema("[database.schema]\nadmin_plugin = false\n");
        let q = Queries::build(&s, Dialect::Postgres);
        assert!(!q.find_session.contains("banned"));
        assert!(!q.insert_session.contains("impersonatedBy"));
    }
}
