//! One story run against every database: SQLite always, PostgreSQL and MariaDB when their admin
//! URLs are set (and always in CI). It checks the rows Gatehouse writes are the rows Better Auth
//! writes, and that the layouts other adapters write can be read through config.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::db::{session, user, Kind, TestDb};
use gatehouse::time::Timestamp;

async fn story(kind: Kind) {
    let Some(db) = TestDb::migrated(kind).await else {
        return;
    };
    let store = db.store("");
    store.ping().await.unwrap();
    // Millisecond timestamps, as Better Auth writes them.
    let now = Timestamp::from_millis(Timestamp::now().millis());
    let mut alice = user("alice", now);
    alice.name = "Alice Ünïcødé ☃".into();
    alice.banned = Some(true);
    alice.ban_reason = Some("spam".into());
    alice.ban_expires = Some(now.plus(Duration::from_secs(3600)));
    store.insert_user(&alice).await.unwrap();
    let live = session(
        "liveTokenliveTokenliveTokenlive1",
        "alice",
        now.plus(Duration::from_secs(604_800)),
        now,
    );
    let old = session(
        "oldTokenoldTokenoldTokenoldToken",
        "alice",
        now.minus(Duration::from_secs(1)),
        now,
    );
    store.insert_session(&live).await.unwrap();
    store.insert_session(&old).await.unwrap();

    let found = store
        .find_session(&live.token)
        .await
        .unwrap()
        .expect("the live session is found");
    assert_eq!(found.session, live, "{kind:?}: session round trip");
    assert_eq!(
        found.user, alice,
        "{kind:?}: user round trip, ban fields included"
    );
    assert!(found.is_banned(now));
    assert!(!found.is_expired(now));

    let expired = store
        .find_session(&old.token)
        .await
        .unwrap()
        .expect("expired rows are still read");
    assert!(expired.is_expired(now), "{kind:?}");

    assert_eq!(store.find_session("no-such-token").await.unwrap(), None);

    // Refresh writes once: a second writer expecting the old expiry matches nothing.
    let later = now.plus(Duration::from_secs(10));
    let new_expiry = later.plus(Duration::from_secs(604_800));
    assert!(store
        .refresh_session(&live.token, live.expires_at, new_expiry, later)
        .await
        .unwrap());
    assert!(!store
        .refresh_session(&live.token, live.expires_at, new_expiry, later)
        .await
        .unwrap());
    let refreshed = store
        .find_session(&live.token)
        .await
        .unwrap()
        .unwrap()
        .session;
    assert_eq!(
        (refreshed.expires_at, refreshed.updated_at),
        (new_expiry, later),
        "{kind:?}"
    );
    assert_eq!(refreshed.token, live.token, "the token never changes");

    let listed = store.list_user_sessions("alice").await.unwrap();
    let mut tokens: Vec<&str> = listed.iter().map(|s| s.token.as_str()).collect();
    tokens.sort_unstable();
    assert_eq!(
        tokens,
        vec![live.token.as_str(), old.token.as_str()],
        "{kind:?}"
    );

    assert_eq!(
        store.delete_expired(now).await.unwrap(),
        1,
        "{kind:?}: only the expired row"
    );
    assert_eq!(store.find_session(&old.token).await.unwrap(), None);
    assert_eq!(store.delete_expired(now).await.unwrap(), 0);

    let extra = session("extraTokenextraTokenextraToken01", "alice", new_expiry, now);
    store.insert_session(&extra).await.unwrap();
    let revoked = store
        .delete_user_sessions("alice", Some(&live.token))
        .await
        .unwrap();
    assert_eq!(
        revoked,
        vec![extra.token.clone()],
        "{kind:?}: all but the kept one"
    );
    assert!(store.find_session(&live.token).await.unwrap().is_some());
    assert!(store.delete_session(&live.token).await.unwrap());
    assert_eq!(store.find_session(&live.token).await.unwrap(), None);
    assert!(!store.delete_session(&live.token).await.unwrap());
}

#[tokio::test]
async fn sqlite_story() {
    story(Kind::Sqlite).await;
}

#[tokio::test]
async fn postgres_story() {
    story(Kind::Postgres).await;
}

#[tokio::test]
async fn mysql_story() {
    story(Kind::MySql).await;
}

#[tokio::test]
async fn sqlite_rows_are_written_as_better_auth_writes_them() {
    let db = TestDb::migrated(Kind::Sqlite).await.unwrap();
    let now = Timestamp::from_millis(1_795_395_501_238);
    db.store("").insert_user(&user("bob", now)).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let (date_type, date, bool_type, verified): (String, String, String, i64) = sqlx::query_as(
        r#"SELECT typeof("createdAt"), "createdAt", typeof("emailVerified"), "emailVerified" FROM "user""#,
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (date_type.as_str(), date.as_str()),
        ("text", "2026-11-23T00:58:21.238Z")
    );
    assert_eq!((bool_type.as_str(), verified), ("integer", 1));
}

/// A Drizzle-style layout: snake_case columns, renamed tables, and each database's other date
/// type (epoch milliseconds in SQLite, `timestamp` without time zone in PostgreSQL, `datetime`
/// in MySQL).
async fn renamed_layout(kind: Kind) {
    let Some(db) = TestDb::empty(kind).await else {
        return;
    };
    let (date, boolean, text) = match kind {
        Kind::Sqlite => ("integer", "integer", "text"),
        Kind::Postgres => ("timestamp(3)", "boolean", "text"),
        Kind::MySql => ("datetime(3)", "boolean", "varchar(255)"),
    };
    let q = |s: &str| {
        if kind == Kind::MySql {
            format!("`{s}`")
        } else {
            format!("\"{s}\"")
        }
    };
    db.exec(&format!(
        "CREATE TABLE {users} (id {text} PRIMARY KEY, name {text} NOT NULL, email {text} NOT NULL, \
         email_verified {boolean} NOT NULL, image {text}, created_at {date} NOT NULL, updated_at {date} NOT NULL, \
         role {text}, banned {boolean}, ban_reason {text}, ban_expires {date}, department {text})",
        users = q("auth_users")
    ))
    .await;
    db.exec(&format!(
        "CREATE TABLE {sessions} (id {text} PRIMARY KEY, expires_at {date} NOT NULL, session_token {text} NOT NULL, \
         created_at {date} NOT NULL, updated_at {date} NOT NULL, ip_address {text}, user_agent {text}, \
         user_id {text} NOT NULL, impersonated_by {text})",
        sessions = q("auth_sessions")
    ))
    .await;
    let schema = "naming = \"snake_case\"\nuser_table = \"auth_users\"\nsession_table = \"auth_sessions\"\n\
                  sqlite_dates = \"epoch_ms\"\n[database.schema.columns]\n\"session.token\" = \"session_token\"\n";
    let store = db.store(schema);
    let now = Timestamp::from_millis(Timestamp::now().millis());
    let carol = user("carol", now);
    store.insert_user(&carol).await.unwrap();
    let s = session(
        "drizzleTokendrizzleTokendrizzle1",
        "carol",
        now.plus(Duration::from_secs(60)),
        now,
    );
    store.insert_session(&s).await.unwrap();
    let found = store
        .find_session(&s.token)
        .await
        .unwrap()
        .expect("found through the renamed layout");
    assert_eq!(found.session, s, "{kind:?}");
    assert_eq!(found.user, carol, "{kind:?}");
    if kind == Kind::Sqlite {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let stored: i64 = sqlx::query_scalar("SELECT expires_at FROM auth_sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(
            stored,
            s.expires_at.millis(),
            "epoch milliseconds, as Drizzle writes them"
        );
    }
}

#[tokio::test]
async fn sqlite_renamed_layout() {
    renamed_layout(Kind::Sqlite).await;
}

#[tokio::test]
async fn postgres_renamed_layout() {
    renamed_layout(Kind::Postgres).await;
}

#[tokio::test]
async fn mysql_renamed_layout() {
    renamed_layout(Kind::MySql).await;
}

#[tokio::test]
async fn extra_user_columns_are_read_as_text() {
    let db = TestDb::migrated(Kind::Sqlite).await.unwrap();
    db.exec(r#"ALTER TABLE "user" ADD COLUMN "plan" text; ALTER TABLE "user" ADD COLUMN "seats" integer"#).await;
    let (_, _) = db.seed("extraTokenextraTokenextraTokenex", 60).await;
    db.exec(r#"UPDATE "user" SET "plan" = 'pro', "seats" = 7"#)
        .await;
    let toml = format!(
        "[database]\nurl = \"{}\"\n[headers.user_columns]\n\"x-plan\" = \"plan\"\n\"x-seats\" = \"seats\"\n",
        db.url
    );
    let env = gatehouse::config::MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
    let config =
        gatehouse::config::Config::from_file(gatehouse::config::parse_toml(&toml).unwrap(), &env)
            .unwrap();
    let store = gatehouse::store::open(&config.database).unwrap();
    let found = store
        .find_session("extraTokenextraTokenextraTokenex")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found.user.extra,
        vec![Some("pro".to_string()), Some("7".to_string())]
    );
}

/// An expiry another writer stored with sub-millisecond precision (plain SQL, another ORM) is
/// refreshed all the same: the conditional UPDATE compares it the way it was read.
async fn sub_millisecond_expiries_are_refreshed(kind: Kind) {
    let Some(db) = TestDb::migrated(kind).await else {
        return;
    };
    let store = db.store("");
    let token = "microTokenmicroTokenmicroToken01";
    let now = Timestamp::from_millis(Timestamp::now().millis());
    store.insert_user(&user("micro", now)).await.unwrap();
    let day = Duration::from_secs(86_400);
    store
        .insert_session(&session(token, "micro", now.plus(day), now))
        .await
        .unwrap();
    // 2030-01-01T00:00:00.123456Z, in each database's own way of holding microseconds.
    let writes: Vec<String> = match kind {
        Kind::Sqlite => vec![
            format!(r#"UPDATE "session" SET "expiresAt" = '2030-01-01T00:00:00.123456Z' WHERE "token" = '{token}'"#),
            format!(r#"UPDATE "session" SET "expiresAt" = 1893456000123.456 WHERE "token" = '{token}'"#),
        ],
        Kind::Postgres => vec![format!(
            r#"UPDATE "session" SET "expiresAt" = '2030-01-01 00:00:00.123456+00' WHERE "token" = '{token}'"#
        )],
        Kind::MySql => vec![
            "ALTER TABLE `session` MODIFY `expiresAt` timestamp(6) NOT NULL".to_string(),
            format!("UPDATE `session` SET `expiresAt` = '2030-01-01 00:00:00.123456' WHERE `token` = '{token}'"),
        ],
    };
    for write in writes.iter().filter(|w| w.starts_with("UPDATE")) {
        for setup in writes.iter().filter(|w| !w.starts_with("UPDATE")) {
            db.exec(setup).await;
        }
        db.exec(write).await;
        let read = store.find_session(token).await.unwrap().unwrap().session;
        assert_eq!(
            read.expires_at.millis() / 1000,
            1_893_456_000,
            "{kind:?}: {write}"
        );
        let extended = now.plus(7 * day);
        let written = store
            .refresh_session(token, read.expires_at, extended, now)
            .await
            .unwrap();
        assert!(
            written,
            "{kind:?}: the UPDATE matched nothing after {write}"
        );
        let after = store.find_session(token).await.unwrap().unwrap().session;
        assert_eq!(after.expires_at, extended, "{kind:?}");
    }
}

#[tokio::test]
async fn sqlite_sub_millisecond_expiries_are_refreshed() {
    sub_millisecond_expiries_are_refreshed(Kind::Sqlite).await;
}

#[tokio::test]
async fn postgres_sub_millisecond_expiries_are_refreshed() {
    sub_millisecond_expiries_are_refreshed(Kind::Postgres).await;
}

#[tokio::test]
async fn mysql_sub_millisecond_expiries_are_refreshed() {
    sub_millisecond_expiries_are_refreshed(Kind::MySql).await;
}

/// Better Auth's additional fields of every type, in the column types Better Auth's migrator
/// creates on each database, come back as Better Auth's JSON gives them; `fieldName` maps a
/// field to another column, and a configured column that does not exist is an error naming it.
async fn additional_fields_are_decoded_as_better_auth_returns_them(kind: Kind) {
    let Some(db) = TestDb::migrated(kind).await else {
        return;
    };
    let (user_t, session_t, q) = match kind {
        Kind::MySql => ("`user`", "`session`", "`"),
        _ => ("\"user\"", "\"session\"", "\""),
    };
    // Better Auth's getMigrations type map: string, number, boolean, date, json/arrays.
    let (text, int, boolean, date, json) = match kind {
        Kind::Sqlite => ("text", "integer", "integer", "date", "text"),
        Kind::Postgres => ("text", "integer", "boolean", "timestamptz", "jsonb"),
        Kind::MySql => ("text", "integer", "boolean", "timestamp(3) NULL", "json"),
    };
    for (table, column, ty) in [
        (user_t, "profession", text),
        (user_t, "age", int),
        (user_t, "isActive", boolean),
        (user_t, "hiredAt", date),
        (user_t, "tags", json),
        (user_t, "scores", json),
        (user_t, "prefs", json),
        (user_t, "nothing", text),
        (user_t, "secret_note", text),
        (session_t, "activeOrganizationId", text),
    ] {
        db.exec(&format!(
            "ALTER TABLE {table} ADD COLUMN {q}{column}{q} {ty}"
        ))
        .await;
    }
    let store = db.store("");
    let now = Timestamp::from_millis(Timestamp::now().millis());
    store.insert_user(&user("fields", now)).await.unwrap();
    let token = "fieldTokenfieldTokenfieldToken01";
    store
        .insert_session(&session(
            token,
            "fields",
            now.plus(Duration::from_secs(3600)),
            now,
        ))
        .await
        .unwrap();
    let (yes, hired) = match kind {
        Kind::Postgres => ("true", "'2026-01-15 10:30:00.123+00'"),
        Kind::MySql => ("1", "'2026-01-15 10:30:00.123'"),
        Kind::Sqlite => ("1", "'2026-01-15T10:30:00.123Z'"),
    };
    db.exec(&format!(
        "UPDATE {user_t} SET {q}profession{q} = 'Biotechnology Engineer', {q}age{q} = 42, \
         {q}isActive{q} = {yes}, {q}hiredAt{q} = {hired}, {q}tags{q} = '[\"a\",\"b\"]', \
         {q}scores{q} = '[1,2.5]', {q}prefs{q} = '{{\"theme\":\"dark\",\"n\":[1,null]}}', \
         {q}secret_note{q} = 'hush' WHERE {q}id{q} = 'fields'"
    ))
    .await;
    db.exec(&format!(
        "UPDATE {session_t} SET {q}activeOrganizationId{q} = 'org-1' WHERE {q}token{q} = '{token}'"
    ))
    .await;

    let fields = r#"
[better_auth.user.additional_fields]
profession = { type = "string" }
age = { type = "number" }
isActive = { type = "boolean" }
hiredAt = { type = "date" }
tags = { type = "string[]" }
scores = { type = "number[]" }
prefs = { type = "json" }
nothing = { type = "string" }
note = { type = "string", field_name = "secret_note", returned = false }
[better_auth.plugins]
organization = true
"#;
    let open = |extra: &str| {
        let toml = format!("{extra}\n[database]\nurl = \"{}\"\n", db.url);
        let env = gatehouse::config::MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
        let config = gatehouse::config::Config::from_file(
            gatehouse::config::parse_toml(&toml).unwrap(),
            &env,
        )
        .unwrap();
        let names: Vec<String> = config
            .better_auth
            .additional_fields
            .user
            .iter()
            .map(|f| f.name.clone())
            .collect();
        (gatehouse::store::open(&config.database).unwrap(), names)
    };
    let (store, names) = open(fields);
    let found = store.find_session(token).await.unwrap().unwrap();
    let by_name: serde_json::Map<String, serde_json::Value> = names
        .into_iter()
        .zip(found.user.additional.iter().cloned())
        .collect();
    assert_eq!(
        serde_json::Value::Object(by_name),
        serde_json::json!({
            "profession": "Biotechnology Engineer",
            "age": 42,
            "isActive": true,
            "hiredAt": "2026-01-15T10:30:00.123Z",
            "tags": ["a", "b"],
            "scores": [1, 2.5],
            "prefs": {"theme": "dark", "n": [1, null]},
            "nothing": null,
            "note": "hush",
        }),
        "{kind:?}"
    );
    assert_eq!(
        found.session.additional,
        vec![serde_json::json!("org-1")],
        "{kind:?}"
    );

    // A configured column the table lacks: the database's error names it.
    let (store, _) =
        open("[better_auth.user.additional_fields]\nmissing_col = { type = \"string\" }\n");
    let err = store.find_session(token).await.unwrap_err().to_string();
    assert!(err.contains("missing_col"), "{kind:?}: {err}");
}

#[tokio::test]
async fn sqlite_additional_fields_are_decoded_as_better_auth_returns_them() {
    additional_fields_are_decoded_as_better_auth_returns_them(Kind::Sqlite).await;
}

#[tokio::test]
async fn postgres_additional_fields_are_decoded_as_better_auth_returns_them() {
    additional_fields_are_decoded_as_better_auth_returns_them(Kind::Postgres).await;
}

#[tokio::test]
async fn mysql_additional_fields_are_decoded_as_better_auth_returns_them() {
    additional_fields_are_decoded_as_better_auth_returns_them(Kind::MySql).await;
}
