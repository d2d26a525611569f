//! The binary's subcommands as a deploy script or a newcomer runs them.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn gatehouse(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_accepts_a_valid_file_and_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.toml");
    std::fs::write(&path, "[proxy]\nupstream = \"http://127.0.0.1:3000\"\n").unwrap();
    let out = gatehouse(
        &["check", "--config", path.to_str().unwrap()],
        &[("BETTER_AUTH_SECRET", "x")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ok: listen 127.0.0.1:8080"), "{stdout}");
    assert!(!stdout.contains("x\n"), "no secret in the summary");
}

#[test]
fn check_names_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[cache]\nmax_staleness = \"soon\"\n").unwrap();
    let out = gatehouse(
        &["check", "--config", path.to_str().unwrap()],
        &[("BETTER_AUTH_SECRET", "x")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("cache.max_staleness") && err.contains("\"30s\""),
        "{err}"
    );

    let out = gatehouse(&["check"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("BETTER_AUTH_SECRET"),
        "{}",
        stderr(&out)
    );

    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:1\"\ntypo = true\n").unwrap();
    let out = gatehouse(
        &["check"],
        &[
            ("BETTER_AUTH_SECRET", "x"),
            ("GATEHOUSE_CONFIG", path.to_str().unwrap()),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("line 3") && stderr(&out).contains("typo"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn migrate_creates_the_schema_and_can_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/dir/app.db").display()
    );
    for _ in 0..2 {
        let out = gatehouse(&["migrate", "--database-url", &url], &[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(dir.path().join("nested/dir/app.db").exists());
}

#[test]
fn admin_indexes_are_refused_outside_postgres_with_the_reason() {
    let out = gatehouse(
        &[
            "migrate",
            "--admin-indexes",
            "--database-url",
            "sqlite://unused.db",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--admin-indexes needs a postgres://"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_names_a_missing_sqlite_file() {
    let out = gatehouse(
        &["serve"],
        &[
            ("BETTER_AUTH_SECRET", "x"),
            ("GATEHOUSE_DATABASE_URL", "sqlite://no/such/file.db"),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no/such/file.db does not exist") && err.contains("gatehouse migrate"),
        "{err}"
    );
}

#[test]
fn serve_refuses_a_database_without_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let url = format!("sqlite://{}", path.display());
    let out = gatehouse(
        &["serve"],
        &[
            ("BETTER_AUTH_SECRET", "x"),
            ("GATEHOUSE_DATABASE_URL", &url),
            ("GATEHOUSE_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("does not match database.schema") && err.contains("gatehouse migrate"),
        "{err}"
    );
}

#[test]
fn serve_names_a_declared_field_the_table_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    assert!(gatehouse(&["migrate", "--database-url", &url], &[])
        .status
        .success());
    let config = dir.path().join("fields.toml");
    std::fs::write(
        &config,
        "[better_auth.user.additional_fields]\nisActive = { type = \"boolean\" }\n",
    )
    .unwrap();
    let out = gatehouse(
        &["serve", "--config", config.to_str().unwrap()],
        &[
            ("BETTER_AUTH_SECRET", "x"),
            ("GATEHOUSE_DATABASE_URL", &url),
            ("GATEHOUSE_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("isActive") && err.contains("additional_fields"),
        "{err}"
    );
}

#[test]
fn serve_refuses_a_schema_it_was_not_told_about() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    assert!(gatehouse(&["migrate", "--database-url", &url], &[])
        .status
        .success());
    let config = dir.path().join("snake.toml");
    std::fs::write(&config, "[database.schema]\nnaming = \"snake_case\"\n").unwrap();
    let out = gatehouse(
        &["serve", "--config", config.to_str().unwrap()],
        &[
            ("BETTER_AUTH_SECRET", "x"),
            ("GATEHOUSE_DATABASE_URL", &url),
            ("GATEHOUSE_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("user_id") || stderr(&out).contains("no such column"),
        "{}",
        stderr(&out)
    );
}

/// A busy listen address: `serve` exits non-zero at once and names the address (Pingora alone
/// would retry for half a minute, then lose its listener while health checks kept passing).
#[test]
fn serve_exits_at_once_naming_a_busy_address() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gatehouse.db");
    let url = format!("sqlite://{}", db.display());
    let migrated = gatehouse(&["migrate", "--database-url", &url], &[]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = holder.local_addr().unwrap().to_string();
    let started = std::time::Instant::now();
    let out = gatehouse(
        &["serve"],
        &[
            ("BETTER_AUTH_SECRET", "x"),
            ("GATEHOUSE_DATABASE_URL", &url),
            ("GATEHOUSE_UPSTREAM", "http://127.0.0.1:9"),
            ("GATEHOUSE_LISTEN", &busy),
        ],
    );
    assert!(!out.status.success());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot listen on {busy}")), "{err}");
}
