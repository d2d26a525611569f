//! The validator over a real SQLite database. Whether a request reached the store is seen from
//! outside: a row deleted behind the validator's back, or a store that cannot be reached.

use std::time::Duration;

use super::*;
use crate::config::{parse_toml, MapEnv};
use crate::session::{Session, User};
use crate::store::{self, SessionStore};
use crate::time::{ManualClock, Timestamp};

const SECRET: &str = "validator-test-secret-0123456789";
const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

struct Fixture {
    _dir: tempfile::TempDir,
    url: String,
    validator: SessionValidator,
    store: Arc<dyn SessionStore>,
    clock: Arc<ManualClock>,
    key: SigningKey,
}

fn user(id: &str, banned: Option<bool>, ban_expires: Option<Timestamp>) -> User {
    User {
        id: id.into(),
        name: "Alice".into(),
        email: format!("{id}@example.com"),
        email_verified: false,
        image: None,
        created_at: NOW,
        updated_at: NOW,
        role: Some("user".into()),
        banned,
        ban_reason: None,
        ban_expires,
        extra: Vec::new(),
        additional: Vec::new(),
    }
}

fn session(token: &str, user_id: &str, expires_at: Timestamp) -> Session {
    Session {
        id: format!("id-{token}"),
        token: token.into(),
        user_id: user_id.into(),
        expires_at,
        created_at: NOW,
        updated_at: NOW,
        ip_address: None,
        user_agent: None,
        impersonated_by: None,
        additional: Vec::new(),
        active_member_role: None,
    }
}

async fn fixture() -> Fixture {
    fixture_with("").await
}

async fn fixture_with(extra_toml: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    store::migrate::run(&url).await.unwrap();
    let toml = format!("[database]\nurl = \"{url}\"\n[cache]\nnegative_ttl = 60\n{extra_toml}");
    let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", SECRET)]);
    let config = Arc::new(Config::from_file(parse_toml(&toml).unwrap(), &env).unwrap());
    let store = store::open(&config.database).unwrap();
    store
        .insert_user(&user("alice", Some(false), None))
        .await
        .unwrap();
    store
        .insert_user(&user("banned", Some(true), None))
        .await
        .unwrap();
    store
        .insert_user(&user(
            "was-banned",
            Some(true),
            Some(NOW.minus(Duration::from_secs(1))),
        ))
        .await
        .unwrap();
    let week = NOW.plus(Duration::from_secs(604_800));
    for (token, user_id, expires) in [
        ("good", "alice", week),
        ("soon", "alice", NOW.plus(Duration::from_secs(10))),
        ("banned", "banned", week),
        ("was-banned", "was-banned", week),
    ] {
        store
            .insert_session(&session(token, user_id, expires))
            .await
            .unwrap();
    }
    let clock = Arc::new(ManualClock::new(NOW));
    let validator = SessionValidator::new(config, store.clone(), clock.clone(), Default::default());
    Fixture {
        _dir: dir,
        url,
        validator,
        store,
        clock,
        key: SigningKey::new(SECRET),
    }
}

impl Fixture {
    async fn check(&self, cookie_header: &str) -> AuthOutcome {
        self.validator
            .validate(&[cookie_header], ValidateOptions::default())
            .await
            .unwrap()
    }

    fn cookie(&self, token: &str) -> String {
        format!(
            "other=1; better-auth.session_token={}",
            self.key.sign_cookie_value(token)
        )
    }
}

/// A validator whose store cannot be reached: any lookup is an error.
fn unreachable_validator(dir: &tempfile::TempDir) -> SessionValidator {
    let url = format!("sqlite://{}", dir.path().join("missing/none.db").display());
    let toml = format!("[database]\nurl = \"{url}\"\nacquire_timeout = \"500ms\"\n");
    let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", SECRET)]);
    let config = Arc::new(Config::from_file(parse_toml(&toml).unwrap(), &env).unwrap());
    let store = store::open(&config.database).unwrap();
    SessionValidator::new(
        config,
        store,
        Arc::new(ManualClock::new(NOW)),
        Default::default(),
    )
}

fn reason(outcome: AuthOutcome) -> Option<AnonReason> {
    match outcome {
        AuthOutcome::Anonymous { reason, .. } => Some(reason),
        AuthOutcome::Authenticated(_) => None,
    }
}

#[tokio::test]
async fn a_valid_cookie_authenticates_and_is_cached() {
    let f = fixture().await;
    let AuthOutcome::Authenticated(s) = f.check(&f.cookie("good")).await else {
        panic!("expected a session")
    };
    assert_eq!(s.session.email(), "alice@example.com");
    assert_eq!(s.session.session_id(), "id-good");
    assert_eq!(s.source, LookupSource::Database);
    assert!(f.store.delete_session("good").await.unwrap());
    assert!(
        reason(f.check(&f.cookie("good")).await).is_none(),
        "the second request is a cache hit"
    );
}

#[tokio::test]
async fn missing_or_forged_cookies_never_query_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let validator = unreachable_validator(&dir);
    let forged = SigningKey::new("not-the-secret-not-the-secret-00").sign_cookie_value("good");
    let cases = [
        ("theme=dark".to_string(), AnonReason::NoCookie),
        (
            format!("better-auth.session_token={forged}"),
            AnonReason::BadSignature,
        ),
        (
            "better-auth.session_token=good".to_string(),
            AnonReason::BadSignature,
        ),
    ];
    for (header, expected) in cases {
        let outcome = validator
            .validate(&[header.as_str()], ValidateOptions::default())
            .await;
        let outcome = outcome.expect("answered without asking the (unreachable) store");
        assert_eq!(reason(outcome), Some(expected), "{header}");
    }
}

#[tokio::test]
async fn unknown_tokens_are_cached_negatively() {
    let f = fixture().await;
    let first = f.check(&f.cookie("nope")).await;
    assert_eq!(
        set_cookies(&first).len(),
        3,
        "a dead cookie is cleared, as Better Auth does"
    );
    assert_eq!(
        reason(f.check(&f.cookie("nope")).await),
        Some(AnonReason::UnknownSession)
    );
    let week = NOW.plus(Duration::from_secs(604_800));
    f.store
        .insert_session(&session("nope", "alice", week))
        .await
        .unwrap();
    assert_eq!(
        reason(f.check(&f.cookie("nope")).await),
        Some(AnonReason::UnknownSession),
        "still unknown until the negative entry expires"
    );
}

#[tokio::test]
async fn expired_sessions_are_rejected_even_from_the_cache() {
    let f = fixture().await;
    // Without refresh: a session 10 s from expiry is otherwise extended, as Better Auth does.
    let cookie = f.cookie("soon");
    let options = ValidateOptions {
        disable_refresh: true,
        ..Default::default()
    };
    let first = f
        .validator
        .validate(&[cookie.as_str()], options)
        .await
        .unwrap();
    assert!(reason(first).is_none());
    f.clock.advance(Duration::from_secs(11));
    assert_eq!(
        reason(f.check(&f.cookie("soon")).await),
        Some(AnonReason::Expired)
    );
}

#[tokio::test]
async fn banned_users_are_rejected_until_the_ban_runs_out() {
    let f = fixture().await;
    assert_eq!(
        reason(f.check(&f.cookie("banned")).await),
        Some(AnonReason::Banned)
    );
    assert!(reason(f.check(&f.cookie("was-banned")).await).is_none());
}

#[tokio::test]
async fn an_unreachable_store_is_an_error_not_an_anonymous_request() {
    let dir = tempfile::tempdir().unwrap();
    let validator = unreachable_validator(&dir);
    let cookie = format!(
        "better-auth.session_token={}",
        SigningKey::new(SECRET).sign_cookie_value("good")
    );
    assert!(validator
        .validate(&[cookie.as_str()], ValidateOptions::default())
        .await
        .is_err());
}

/// Counts UPDATEs of the session table in the database itself.
async fn count_updates(f: &Fixture) -> i64 {
    let pool = sqlx::SqlitePool::connect(&f.url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM session_updates")
        .fetch_one(&pool)
        .await
        .unwrap()
}

async fn install_update_counter(f: &Fixture) {
    let pool = sqlx::SqlitePool::connect(&f.url).await.unwrap();
    sqlx::raw_sql(
        r#"CREATE TABLE session_updates (token TEXT);
           CREATE TRIGGER count_session_updates AFTER UPDATE ON "session"
           BEGIN INSERT INTO session_updates VALUES (NEW."token"); END;"#,
    )
    .execute(&pool)
    .await
    .unwrap();
}

fn set_cookies(outcome: &AuthOutcome) -> Vec<String> {
    match outcome {
        AuthOutcome::Authenticated(a) => a.set_cookies.clone(),
        AuthOutcome::Anonymous { set_cookies, .. } => set_cookies.clone(),
    }
}

#[tokio::test]
async fn a_session_past_update_age_is_refreshed_with_the_same_token() {
    let f = fixture().await;
    install_update_counter(&f).await;
    // "good" expires in 7 days: not due. One day later it is (Better Auth's rule).
    assert!(set_cookies(&f.check(&f.cookie("good")).await).is_empty());
    f.clock.advance(Duration::from_secs(86_400));
    let outcome = f.check(&f.cookie("good")).await;
    let cookies = set_cookies(&outcome);
    assert_eq!(
        cookies,
        vec![format!(
            "better-auth.session_token={}; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax",
            f.key.sign_cookie_value("good")
        )]
    );
    let row = f.store.find_session("good").await.unwrap().unwrap().session;
    let now = f.clock.now();
    assert_eq!(
        (row.expires_at, row.updated_at),
        (now.plus(Duration::from_secs(604_800)), now)
    );
    assert_eq!(count_updates(&f).await, 1);
    assert!(
        set_cookies(&f.check(&f.cookie("good")).await).is_empty(),
        "the refreshed expiry is what the cache now holds"
    );
    assert_eq!(count_updates(&f).await, 1);
}

#[tokio::test]
async fn a_refresh_the_database_did_not_write_sends_no_cookie() {
    let f = fixture().await;
    // The row is there but the UPDATE changes nothing (as a condition on an expiry stored with
    // more precision than it was read with would): nobody else refreshed it either.
    let pool = sqlx::SqlitePool::connect(&f.url).await.unwrap();
    sqlx::raw_sql(
        r#"CREATE TRIGGER ignore_session_updates BEFORE UPDATE ON "session"
           BEGIN SELECT RAISE(IGNORE); END;"#,
    )
    .execute(&pool)
    .await
    .unwrap();
    let before = f.store.find_session("good").await.unwrap().unwrap().session;
    f.clock.advance(Duration::from_secs(86_400));
    let outcome = f.check(&f.cookie("good")).await;
    assert!(matches!(outcome, AuthOutcome::Authenticated(_)));
    assert!(
        set_cookies(&outcome).is_empty(),
        "no Max-Age for an expiry that was not written"
    );
    let after = f.store.find_session("good").await.unwrap().unwrap().session;
    assert_eq!(after.expires_at, before.expires_at);
    let metrics = f.validator.metrics.render().unwrap();
    assert!(
        metrics.contains(r#"gatehouse_session_refreshes_total{result="failed"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn fifty_concurrent_requests_refresh_once() {
    let f = Arc::new(fixture().await);
    install_update_counter(&f).await;
    f.check(&f.cookie("good")).await;
    f.clock.advance(Duration::from_secs(2 * 86_400));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let f = f.clone();
        tasks.push(tokio::spawn(
            async move { f.check(&f.cookie("good")).await },
        ));
    }
    // A request that read the session before the refresh landed shares the refresh and its
    // cookie; one that came after sees a fresh session and needs none. Which is which depends
    // on scheduling; that all are signed in and only one write happens does not.
    let mut with_cookie = 0;
    for task in tasks {
        let outcome = task.await.unwrap();
        assert!(
            matches!(outcome, AuthOutcome::Authenticated(_)),
            "{outcome:?}"
        );
        let cookies = set_cookies(&outcome);
        if !cookies.is_empty() {
            assert_eq!(cookies, [f.validator.cookies().session_cookie("good")]);
            with_cookie += 1;
        }
    }
    assert!(
        with_cookie >= 1,
        "the refreshing request carries the cookie"
    );
    assert_eq!(count_updates(&f).await, 1, "one database write");
    let metrics = f.validator.metrics.render().unwrap();
    assert!(
        metrics.contains(r#"gatehouse_session_refreshes_total{result="written"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains(r#"result="already_refreshed""#),
        "no request attempted a second write: {metrics}"
    );
}

#[tokio::test]
async fn dont_remember_and_disabled_refresh_never_write() {
    let f = fixture().await;
    install_update_counter(&f).await;
    f.clock.advance(Duration::from_secs(3 * 86_400));
    let dont_remember = format!(
        "{}; better-auth.dont_remember={}",
        f.cookie("good"),
        f.key.sign_cookie_value("true")
    );
    assert!(set_cookies(&f.check(&dont_remember).await).is_empty());
    let forged = format!("{}; better-auth.dont_remember=true", f.cookie("good"));
    let options = ValidateOptions {
        disable_refresh: true,
        ..Default::default()
    };
    let outcome = f
        .validator
        .validate(&[forged.as_str()], options)
        .await
        .unwrap();
    assert!(set_cookies(&outcome).is_empty());
    assert_eq!(count_updates(&f).await, 0);
    assert_eq!(
        set_cookies(&f.check(&forged).await).len(),
        1,
        "an unsigned flag does not count"
    );
}

#[tokio::test]
async fn an_expired_session_is_deleted_and_its_cookies_cleared() {
    let f = fixture().await;
    f.clock.advance(Duration::from_secs(11));
    let outcome = f.check(&f.cookie("soon")).await;
    assert_eq!(reason(outcome.clone()), Some(AnonReason::Expired));
    assert_eq!(
        set_cookies(&outcome),
        vec![
            "better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
            "better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
            "better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
        ]
    );
    assert_eq!(
        f.store.find_session("soon").await.unwrap(),
        None,
        "the row is gone"
    );
}

#[tokio::test]
async fn configured_cookie_attributes_reach_refreshes_and_clears_and_every_chunk_is_cleared() {
    let f = fixture_with(
        "[better_auth.cross_sub_domain_cookies]\nenabled = true\ndomain = \"example.com\"\n\
         [better_auth.default_cookie_attributes]\nsame_site = \"none\"\npartitioned = true\n",
    )
    .await;
    f.clock.advance(Duration::from_secs(86_400));
    assert_eq!(
        set_cookies(&f.check(&f.cookie("good")).await),
        vec![format!(
            "better-auth.session_token={}; Max-Age=604800; Domain=example.com; Path=/; HttpOnly; \
             Secure; SameSite=None; Partitioned",
            f.key.sign_cookie_value("good")
        )]
    );
    // "soon" has expired by now: every cookie goes, with the attributes it was set with, and
    // so does each chunk of session_data the browser sent (after the plain name, as Better
    // Auth's session store cleans them).
    let attrs = "Domain=example.com; Path=/; HttpOnly; Secure; SameSite=None; Partitioned";
    let request = format!(
        "{}; better-auth.session_data.0=a; better-auth.session_data.1=b; better-auth.session_data.x=c",
        f.cookie("soon")
    );
    assert_eq!(
        set_cookies(&f.check(&request).await),
        vec![
            format!("better-auth.session_token=; Max-Age=0; {attrs}"),
            format!("better-auth.session_data=; Max-Age=0; {attrs}"),
            format!("better-auth.session_data.0=; Max-Age=0; {attrs}"),
            format!("better-auth.session_data.1=; Max-Age=0; {attrs}"),
            format!("better-auth.dont_remember=; Max-Age=0; {attrs}"),
        ]
    );
}

#[tokio::test]
async fn a_reject_rule_refuses_the_session_on_every_request() {
    let f = fixture_with(
        "[better_auth.user.additional_fields]\nisActive = { type = \"boolean\" }\n\
         [sessions.reject_when]\n\"user.isActive\" = false\n",
    )
    .await;
    let pool = sqlx::SqlitePool::connect(&f.url).await.unwrap();
    sqlx::query(r#"ALTER TABLE "user" ADD COLUMN "isActive" integer"#)
        .execute(&pool)
        .await
        .unwrap();
    let set = |value: Option<bool>| {
        let pool = pool.clone();
        async move {
            sqlx::query(r#"UPDATE "user" SET "isActive" = ? WHERE "id" = 'alice'"#)
                .bind(value)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    set(Some(true)).await;
    assert!(matches!(
        f.check(&f.cookie("good")).await,
        AuthOutcome::Authenticated(_)
    ));
    set(Some(false)).await;
    f.validator.forget("good").await;
    assert_eq!(
        reason(f.check(&f.cookie("good")).await),
        Some(AnonReason::Rejected)
    );
    assert_eq!(
        reason(f.check(&f.cookie("good")).await),
        Some(AnonReason::Rejected),
        "from memory too"
    );
    set(None).await;
    f.validator.forget("good").await;
    assert!(
        matches!(
            f.check(&f.cookie("good")).await,
            AuthOutcome::Authenticated(_)
        ),
        "only the configured value rejects"
    );
}

const COOKIE_CACHE: &str = "[better_auth.cookie_cache]\nenabled = true\nmax_trust = 120\n";

fn cookie_cache() -> crate::auth::cookie_cache::CookieCache {
    let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", SECRET)]);
    let config = Config::from_file(parse_toml(COOKIE_CACHE).unwrap(), &env).unwrap();
    crate::auth::cookie_cache::CookieCache::new(&config.better_auth.cookie_cache.unwrap(), SECRET)
}

/// A record for `token` that exists only in the cookie, never in the database.
fn cached_only(token: &str) -> crate::session::SessionRecord {
    crate::session::SessionRecord {
        session: session(token, "cached-user", NOW.plus(Duration::from_secs(604_800))),
        user: user("cached-user", Some(false), None),
    }
}

impl Fixture {
    fn with_session_data(&self, token: &str, data_for: &str, minted: Timestamp) -> String {
        let data = cookie_cache().encode(&cached_only(data_for), minted, false);
        format!("{}; better-auth.session_data={data}", self.cookie(token))
    }
}

fn source(outcome: &AuthOutcome) -> Option<LookupSource> {
    match outcome {
        AuthOutcome::Authenticated(a) => Some(a.source),
        AuthOutcome::Anonymous { .. } => None,
    }
}

#[tokio::test]
async fn a_valid_cookie_cache_is_trusted_without_the_database() {
    let f = fixture_with(COOKIE_CACHE).await;
    let outcome = f.check(&f.with_session_data("ghost", "ghost", NOW)).await;
    assert_eq!(source(&outcome), Some(LookupSource::CookieCache));
    let AuthOutcome::Authenticated(a) = outcome else {
        unreachable!()
    };
    assert_eq!(a.session.user_id(), "cached-user");
    assert!(a.set_cookies.is_empty(), "a cache hit sets no cookie");
}

#[tokio::test]
async fn a_cookie_cache_for_another_token_or_too_old_is_ignored() {
    let f = fixture_with(COOKIE_CACHE).await;
    let other = f
        .check(&f.with_session_data("ghost", "someone-else", NOW))
        .await;
    assert_eq!(
        reason(other),
        Some(AnonReason::UnknownSession),
        "falls back to the database"
    );
    let old = NOW.minus(Duration::from_secs(121));
    let stale = f.check(&f.with_session_data("ghost2", "ghost2", old)).await;
    assert_eq!(
        reason(stale),
        Some(AnonReason::UnknownSession),
        "minted longer ago than max_trust"
    );
}

#[tokio::test]
async fn a_revoked_token_is_not_trusted_from_its_cookie_cache() {
    let f = fixture_with(COOKIE_CACHE).await;
    f.validator.forget("ghost").await;
    let outcome = f.check(&f.with_session_data("ghost", "ghost", NOW)).await;
    assert_eq!(reason(outcome), Some(AnonReason::UnknownSession));
}

#[tokio::test]
async fn the_database_path_mints_a_fresh_cookie_cache() {
    let f = fixture_with(COOKIE_CACHE).await;
    let outcome = f.check(&f.cookie("good")).await;
    assert_eq!(source(&outcome), Some(LookupSource::Database));
    let cookies = set_cookies(&outcome);
    assert_eq!(cookies.len(), 1);
    let value = cookies[0]
        .strip_prefix("better-auth.session_data=")
        .and_then(|rest| rest.split(';').next())
        .expect("a session_data cookie");
    assert!(cookies[0].ends_with("; Max-Age=300; Path=/; HttpOnly; SameSite=Lax"));
    let decoded = cookie_cache()
        .decode(value, NOW)
        .expect("decodes with the same secret");
    assert_eq!(decoded.record.session.token, "good");
}

#[tokio::test]
async fn hits_are_counted_by_source() {
    let f = fixture().await;
    let cookie = f.cookie("good");
    f.check(&cookie).await;
    f.check(&cookie).await;
    f.check(&cookie).await;
    let text = f.validator.metrics.render().unwrap();
    for series in [
        r#"gatehouse_session_lookups_total{result="hit",source="database"} 1"#,
        r#"gatehouse_session_lookups_total{result="hit",source="memory"} 2"#,
        r#"gatehouse_session_lookups_total{result="hit",source="cookie_cache"} 0"#,
    ] {
        assert!(text.contains(series), "missing {series}\n{text}");
    }
}

#[tokio::test]
async fn get_session_expires_a_session_data_better_auth_would_not_use() {
    let expired_data = "better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax";
    let f = fixture_with(COOKIE_CACHE).await;
    let stale = |header: String, disable: bool| f.validator.stale_session_data(&[&header], disable);
    assert!(
        stale(f.with_session_data("good", "good", NOW), false).is_empty(),
        "valid, same token"
    );
    assert_eq!(
        stale(f.with_session_data("good", "soon", NOW), false),
        [expired_data],
        "another token"
    );
    assert_eq!(
        stale(
            format!("{}; better-auth.session_data=junk", f.cookie("good")),
            false
        ),
        [expired_data]
    );
    assert!(
        stale(
            format!("{}; better-auth.session_data=junk", f.cookie("good")),
            true
        )
        .is_empty(),
        "disableCookieCache"
    );
    assert!(
        stale("better-auth.session_data=junk".into(), false).is_empty(),
        "no session cookie"
    );
    // With the cookie cache off, every session_data cookie sent is expired.
    let f = fixture().await;
    assert_eq!(
        f.validator.stale_session_data(
            &["better-auth.session_data.0=a; better-auth.session_data.1=b"],
            false
        ),
        [
            "better-auth.session_data.0=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
            "better-auth.session_data.1=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
        ]
    );
}
