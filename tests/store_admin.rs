//! The admin queries against every database: search, filters, sort, pages with totals, one
//! session by id, stats, random users and account rows.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::db::{session, user, Kind, TestDb};
use gatehouse::store::session_listing::{Account, SessionSearch, SortKey, StatusFilter};
use gatehouse::time::Timestamp;

fn search(now: Timestamp) -> SessionSearch {
    SessionSearch {
        search: None,
        status: StatusFilter::All,
        sort: SortKey::ExpiresAt,
        descending: false,
        offset: 0,
        limit: 25,
        now,
        count_cap: 1000,
    }
}

async fn story(kind: Kind) {
    if let Some(db) = TestDb::migrated(kind).await {
        story_on(&db, kind).await;
    }
}

async fn story_on(db: &TestDb, kind: Kind) {
    let store = db.store("");
    let now = Timestamp::from_millis(Timestamp::now().millis());
    for id in ["alice", "bob", "carol"] {
        store.insert_user(&user(id, now)).await.unwrap();
    }
    // alice: 3 active, bob: 1 active + 1 expired, carol: 1 expired.
    let mut made = Vec::new();
    for (i, (owner, ttl, ip)) in [
        ("alice", 10, "203.0.113.1"),
        ("alice", 20, "203.0.113.1"),
        ("alice", 30, "198.51.100.7"),
        ("bob", 40, "10.0.0.5"),
        ("bob", -40, "203.0.113.1"),
        ("carol", -50, "50%_off"),
    ]
    .into_iter()
    .enumerate()
    {
        let expires = Timestamp::from_millis(now.millis() + ttl * 60_000);
        let mut s = session(
            &format!("token{i:02}token{i:02}token{i:02}token{i:02}"),
            owner,
            expires,
            now,
        );
        s.id = format!("sess{i}{owner}");
        s.ip_address = Some(ip.to_string());
        s.created_at = Timestamp::from_millis(now.millis() - i64::try_from(i).unwrap() * 1000);
        store.insert_session(&s).await.unwrap();
        made.push(s);
    }

    let all = store.search_sessions(&search(now)).await.unwrap();
    assert_eq!(all.total, 6, "{kind:?}");
    let expiries: Vec<i64> = all
        .sessions
        .iter()
        .map(|r| r.session.expires_at.millis())
        .collect();
    assert!(
        expiries.windows(2).all(|w| w[0] <= w[1]),
        "{kind:?}: sorted by expiry ascending"
    );

    let active = store
        .search_sessions(&SessionSearch {
            status: StatusFilter::Active,
            ..search(now)
        })
        .await
        .unwrap();
    assert_eq!(active.total, 4, "{kind:?}");
    let expired = store
        .search_sessions(&SessionSearch {
            status: StatusFilter::Expired,
            ..search(now)
        })
        .await
        .unwrap();
    assert_eq!(expired.total, 2, "{kind:?}");

    let by = |term: &str| SessionSearch {
        search: Some(term.to_string()),
        ..search(now)
    };
    assert_eq!(
        store.search_sessions(&by("sess2al")).await.unwrap().total,
        1,
        "{kind:?}: partial session id"
    );
    assert_eq!(
        store.search_sessions(&by("bob")).await.unwrap().total,
        2,
        "{kind:?}: user id / email"
    );
    assert_eq!(
        store
            .search_sessions(&by("carol@example"))
            .await
            .unwrap()
            .total,
        1,
        "{kind:?}: email"
    );
    assert_eq!(
        store
            .search_sessions(&by("203.0.113.1"))
            .await
            .unwrap()
            .total,
        3,
        "{kind:?}: IP"
    );
    assert_eq!(
        store.search_sessions(&by("50%_")).await.unwrap().total,
        1,
        "{kind:?}: wildcards are literal"
    );
    assert_eq!(
        store.search_sessions(&by("%")).await.unwrap().total,
        1,
        "{kind:?}: % alone is literal"
    );
    assert_eq!(store.search_sessions(&by("nobody")).await.unwrap().total, 0);
    assert_eq!(
        store.search_sessions(&by("alice")).await.unwrap().total,
        3,
        "{kind:?}: a session matching on its own id and on its user is counted once"
    );

    // "a" matches sessions 0, 1, 2 and 5 by their own id, and bob's 3 and 4 through the
    // e-mail domain: one page drawn from both halves of the search, in one order.
    let ids_of = |page: &gatehouse::store::session_listing::SessionPage| -> Vec<String> {
        page.sessions.iter().map(|r| r.session.id.clone()).collect()
    };
    let broad = store
        .search_sessions(&SessionSearch {
            offset: 1,
            limit: 2,
            ..by("a")
        })
        .await
        .unwrap();
    assert_eq!(broad.total, 6, "{kind:?}");
    assert_eq!(
        ids_of(&broad),
        ["sess4bob", "sess0alice"],
        "{kind:?}: expiry ascending"
    );
    let newest = store
        .search_sessions(&SessionSearch {
            descending: true,
            limit: 3,
            ..by("a")
        })
        .await
        .unwrap();
    assert_eq!(
        ids_of(&newest),
        ["sess3bob", "sess2alice", "sess1alice"],
        "{kind:?}: expiry descending"
    );
    let active_a = store
        .search_sessions(&SessionSearch {
            status: StatusFilter::Active,
            ..by("a")
        })
        .await
        .unwrap();
    assert_eq!(active_a.total, 4, "{kind:?}: search and status together");
    let expired_a = store
        .search_sessions(&SessionSearch {
            status: StatusFilter::Expired,
            ..by("a")
        })
        .await
        .unwrap();
    assert_eq!(
        ids_of(&expired_a),
        ["sess5carol", "sess4bob"],
        "{kind:?}: expired, both halves"
    );
    let capped = store
        .search_sessions(&SessionSearch {
            count_cap: 4,
            ..by("a")
        })
        .await
        .unwrap();
    assert_eq!(capped.total, 4, "{kind:?}: counting stops at the cap");
    assert_eq!(
        capped.sessions.len(),
        6,
        "{kind:?}: the cap does not cut the page"
    );
    let capped_all = store
        .search_sessions(&SessionSearch {
            count_cap: 5,
            ..search(now)
        })
        .await
        .unwrap();
    assert_eq!(capped_all.total, 5, "{kind:?}: the cap without a search");

    let page2 = store
        .search_sessions(&SessionSearch {
            sort: SortKey::CreatedAt,
            descending: true,
            offset: 2,
            limit: 2,
            ..search(now)
        })
        .await
        .unwrap();
    assert_eq!(page2.total, 6);
    let ids: Vec<&str> = page2
        .sessions
        .iter()
        .map(|r| r.session.id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec!["sess2alice", "sess3bob"],
        "{kind:?}: created desc, third and fourth"
    );

    let one = store.find_session_by_id("sess3bob").await.unwrap().unwrap();
    assert_eq!(one.session, made[3]);
    assert_eq!(one.user.email, "bob@example.com");
    assert_eq!(store.find_session_by_id("nope").await.unwrap(), None);

    let stats = store.session_stats(now).await.unwrap();
    assert_eq!(
        (stats.total, stats.active, stats.users_with_sessions),
        (6, 4, 2),
        "{kind:?}"
    );
    assert_eq!(stats.top_users[0].id, "alice");
    assert_eq!(stats.top_users[0].sessions, 3);
    assert_eq!(stats.top_users.len(), 2);
    assert_eq!(
        stats.ips[0],
        ("203.0.113.1".to_string(), 2),
        "{kind:?}: active sessions only"
    );
    assert_eq!(store.count_active(now).await.unwrap(), 4);

    let mut sampled = store.sample_user_ids(10).await.unwrap();
    sampled.sort();
    assert_eq!(sampled, vec!["alice", "bob", "carol"]);
    assert_eq!(store.sample_user_ids(1).await.unwrap().len(), 1);

    let account = Account {
        id: "acc1".into(),
        account_id: "github-123".into(),
        provider_id: "github".into(),
        user_id: "carol".into(),
        created_at: now,
        updated_at: now.plus(Duration::from_millis(1)),
    };
    store.insert_account(&account).await.unwrap();
    let sql = match kind {
        Kind::MySql => {
            "SELECT COUNT(*) FROM `account` WHERE `providerId` = 'github' AND `userId` = 'carol'"
        }
        _ => {
            r#"SELECT COUNT(*) FROM "account" WHERE "providerId" = 'github' AND "userId" = 'carol'"#
        }
    };
    assert_eq!(db.count(sql).await, 1, "{kind:?}: the account row is there");
}

#[tokio::test]
async fn sqlite_admin_story() {
    story(Kind::Sqlite).await;
}

#[tokio::test]
async fn postgres_admin_story() {
    story(Kind::Postgres).await;
}

/// The same story with `gatehouse migrate --admin-indexes` applied (twice: it is idempotent).
#[tokio::test]
async fn postgres_admin_story_with_admin_indexes() {
    let Some(db) = TestDb::migrated(Kind::Postgres).await else {
        return;
    };
    for _ in 0..2 {
        db.migrate_with(&["--admin-indexes"]);
    }
    let indexes = db
        .count("SELECT COUNT(*) FROM pg_indexes WHERE indexname LIKE 'gatehouse!_%' ESCAPE '!'")
        .await;
    assert_eq!(indexes, 8, "4 trigram, 3 date and 1 covering index");
    story_on(&db, Kind::Postgres).await;
}

#[tokio::test]
async fn mysql_admin_story() {
    story(Kind::MySql).await;
}
