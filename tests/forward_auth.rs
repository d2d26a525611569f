//! The forward-auth endpoint behind the proxies teams already run, on real sockets: real nginx
//! (`auth_request`, the configuration README.md documents) in front of a recording upstream,
//! and the request shapes of Traefik/Caddy (`X-Forwarded-*`) and Envoy (`ext_authz`, the path
//! appended) sent to the endpoint directly. Only configured callers may ask.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::db::Kind;
use common::{client, free_port, random_token, session_cookie};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONFIG: &str = r#"
[proxy]
trusted_proxies = ["127.0.0.1"]

[forward_auth]
enabled = true
callers = ["127.0.0.1"]

[[routes]]
prefix = "/public"
policy = "public"
"#;

/// A proxy in front (nginx, Caddy) as a child process with its config directory; killed when
/// dropped.
struct FrontProxy {
    child: Child,
    _dir: tempfile::TempDir,
}

impl FrontProxy {
    /// Runs `command` (its config in `dir`) and waits until it listens on `port`.
    async fn start(mut command: Command, dir: tempfile::TempDir, port: u16) -> Self {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the proxy (apt-get install nginx caddy)");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, _dir: dir }
    }
}

impl Drop for FrontProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx with `auth_request` to the gateway at `gateway`, proxying to `upstream`, on `port`.
struct Nginx;

impl Nginx {
    async fn start(port: u16, gateway: std::net::SocketAddr, upstream: &str) -> FrontProxy {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let identity = [
            "user-id",
            "user-email",
            "user-name",
            "user-role",
            "session-id",
        ];
        let set_vars: String = identity
            .iter()
            .map(|h| {
                let var = h.replace('-', "_");
                format!("auth_request_set $auth_{var} $upstream_http_x_auth_{var};\n")
            })
            .collect();
        let send: String = identity
            .iter()
            .map(|h| {
                format!(
                    "proxy_set_header X-Auth-{h} $auth_{};\n",
                    h.replace('-', "_")
                )
            })
            .collect();
        let conf = format!(
            r#"
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};
  uwsgi_temp_path {d}; scgi_temp_path {d};
  server {{
    listen 127.0.0.1:{port};
    location = /_gatehouse_auth {{
      internal;
      proxy_pass http://{gateway}/_gatehouse/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
    location @unauthenticated {{
      if ($auth_location) {{ return 302 $auth_location; }}
      return 401 '{{"error":"unauthenticated"}}';
    }}
    location / {{
      auth_request /_gatehouse_auth;
      {set_vars}
      auth_request_set $auth_cookie $upstream_http_set_cookie;
      auth_request_set $auth_location $upstream_http_location;
      add_header Set-Cookie $auth_cookie;
      error_page 401 = @unauthenticated;
      {send}
      proxy_pass {upstream};
    }}
  }}
}}
"#
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let mut command = Command::new("nginx");
        command.args(["-c", &format!("{d}/nginx.conf"), "-p", &d.to_string()]);
        FrontProxy::start(command, dir, port).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_lets_sessions_through_with_their_identity_and_no_one_else() {
    let (db, upstream, gateway) = common::stack(Kind::Sqlite, CONFIG, &[]).await.unwrap();
    let port = free_port();
    let _nginx = Nginx::start(port, gateway.addr, &upstream.url()).await;
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let token = random_token();
    // Expires in 5 days of 7: past update_age, so the decision refreshes it.
    let (user_id, session_id) = db.seed(&token, 5 * 86_400).await;

    let ok = client()
        .get(url("/orders?id=1"))
        .header("cookie", session_cookie(&token))
        .header("x-auth-user-id", "forged")
        .header("x-auth-user-role", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "{}", gateway.log());
    let refreshed: Vec<_> = ok.headers().get_all("set-cookie").iter().collect();
    assert_eq!(
        refreshed.len(),
        1,
        "the refresh's Set-Cookie reached the client"
    );
    assert!(refreshed[0]
        .to_str()
        .unwrap()
        .starts_with("better-auth.session_token="));
    let seen = upstream.last();
    assert_eq!(seen.path, "/orders?id=1");
    assert_eq!(seen.header("x-auth-user-id"), Some(user_id.as_str()));
    assert_eq!(seen.header("x-auth-session-id"), Some(session_id.as_str()));
    assert_ne!(seen.header("x-auth-user-role"), Some("admin"));

    // No session: 401 for an API client, the login page for a browser; the upstream sees
    // neither, forged identity or not.
    let before = upstream.count();
    let browser = refused_without_a_session(&url).await;
    assert_eq!(browser.status(), 302);
    // nginx makes the relative Location absolute on its own address.
    assert_eq!(
        browser.headers()["location"],
        url("/login?callbackURL=%2Forders%3Ftab%3D2").as_str()
    );
    assert_eq!(upstream.count(), before);

    // A public route needs no session, and gets no identity even when one is forged.
    let public = get_forged(&url("/public/x")).await;
    assert_eq!(public.status(), 200);
    assert_eq!(upstream.last().header("x-auth-user-id"), None);

    // Targets a lenient upstream could read as a protected path while their raw form starts
    // with a public prefix: nginx forwards them as sent, so Gatehouse refuses to decide on them
    // (deciding on the raw prefix would let them through) and nothing reaches the upstream.
    let before = upstream.count();
    for hostile in [
        "/public/../orders",
        "/public/%2e%2e/orders",
        "/public/%2E%2E/orders",
        "/public/..%2forders",
        "/public//../orders",
        "/public/.%2e/orders",
        "/public;/../orders",
        "/public/%2e/../orders",
        "/public\\..\\orders",
    ] {
        // A raw socket: an HTTP client library would resolve the dot segments itself.
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let request = format!(
            "GET {hostile} HTTP/1.1\r\nHost: app.test\r\nX-Auth-User-Id: forged\r\n\
             Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(!answer.starts_with("HTTP/1.1 200"), "{hostile}: {answer}");
        assert_eq!(upstream.count(), before, "{hostile} reached the upstream");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traefik_caddy_and_envoy_request_shapes_are_decided_and_callers_are_checked() {
    let (db, upstream, gateway) = common::stack(Kind::Sqlite, CONFIG, &[]).await.unwrap();
    let token = random_token();
    let (user_id, _) = db.seed(&token, 3600).await;
    let endpoint = |path: &str| gateway.url(&format!("/_gatehouse/forward-auth{path}"));

    // Traefik ForwardAuth / Caddy forward_auth.
    let ok = client()
        .get(endpoint(""))
        .header("x-forwarded-method", "POST")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "app.example.com")
        .header("x-forwarded-uri", "/orders")
        .header("cookie", session_cookie(&token))
        .header("x-auth-user-id", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-auth-user-id"], user_id.as_str());
    let login = client()
        .get(endpoint(""))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-host", "app.example.com")
        .header("x-forwarded-uri", "/orders")
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 302, "Traefik and Caddy pass a redirect on");
    let forged = client()
        .get(endpoint(""))
        .header("x-forwarded-uri", "/orders")
        .header("x-auth-user-id", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert!(forged.headers().get("x-auth-user-id").is_none());

    // Envoy ext_authz (HTTP): the original path after the endpoint's, method and headers as sent.
    let envoy = client()
        .delete(endpoint("/orders/7?force=1"))
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(envoy.status(), 200);
    assert_eq!(envoy.headers()["x-auth-user-id"], user_id.as_str());
    let public = client().get(endpoint("/public/x")).send().await.unwrap();
    assert_eq!(public.status(), 200);
    assert_eq!(
        public.headers()["x-auth-user-id"],
        "",
        "every identity header, empty"
    );
    assert_eq!(upstream.count(), 0, "forward-auth never proxies");

    // A caller outside `callers` without the secret is refused, whatever it describes.
    let (_db2, _up2, strict) = common::stack(
        Kind::Sqlite,
        "[forward_auth]\nenabled = true\ncallers = [\"10.9.9.9\"]\n",
        &[(
            "GATEHOUSE_FORWARD_AUTH_SECRET",
            "a-shared-secret-of-some-length",
        )],
    )
    .await
    .unwrap();
    let refused = client()
        .get(strict.url("/_gatehouse/forward-auth/orders"))
        .header("cookie", session_cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let with_secret = client()
        .get(strict.url("/_gatehouse/forward-auth/public-or-not"))
        .header("x-forward-auth-secret", "a-shared-secret-of-some-length")
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_secret.status(),
        401,
        "admitted, then decided: no session"
    );
}

/// Caddy with `forward_auth` to the gateway at `gateway`, proxying to `upstream`, on `port`.
struct Caddy;

impl Caddy {
    async fn start(port: u16, gateway: std::net::SocketAddr, upstream: &str) -> FrontProxy {
        let dir = tempfile::tempdir().unwrap();
        let conf = format!(
            r#"{{
    admin off
    auto_https off
}}
http://127.0.0.1:{port} {{
    forward_auth {gateway} {{
        uri /_gatehouse/forward-auth
        copy_headers X-Auth-User-Id X-Auth-User-Email X-Auth-User-Name X-Auth-User-Role X-Auth-Session-Id
    }}
    reverse_proxy {upstream}
}}
"#,
            upstream = upstream.trim_start_matches("http://")
        );
        let file = dir.path().join("Caddyfile");
        std::fs::write(&file, conf).unwrap();
        let mut command = Command::new("caddy");
        command
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .env("HOME", dir.path());
        FrontProxy::start(command, dir, port).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_forward_auth_lets_sessions_through_with_their_identity_and_no_one_else() {
    let (db, upstream, gateway) = common::stack(Kind::Sqlite, CONFIG, &[]).await.unwrap();
    let port = free_port();
    let _caddy = Caddy::start(port, gateway.addr, &upstream.url()).await;
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let token = random_token();
    let (user_id, session_id) = db.seed(&token, 3600).await;

    let ok = client()
        .get(url("/orders?id=1"))
        .header("cookie", session_cookie(&token))
        .header("x-auth-user-id", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "{}", gateway.log());
    let seen = upstream.last();
    assert_eq!(seen.path, "/orders?id=1");
    assert_eq!(seen.header("x-auth-user-id"), Some(user_id.as_str()));
    assert_eq!(seen.header("x-auth-session-id"), Some(session_id.as_str()));

    let before = upstream.count();
    let browser = refused_without_a_session(&url).await;
    assert_eq!(browser.status(), 302, "Caddy passes the login redirect on");
    assert_eq!(
        browser.headers()["location"],
        "/login?callbackURL=%2Forders%3Ftab%3D2"
    );
    assert_eq!(
        upstream.count(),
        before,
        "refused requests never reach the upstream"
    );

    // A public route: forwarded, with no identity, forged or real.
    let public = get_forged(&url("/public/x")).await;
    assert_eq!(public.status(), 200);
    // Gatehouse answers every identity header, empty here: Caddy copies that over the
    // client's (Caddy 2.6 would otherwise send a literal placeholder).
    assert_eq!(upstream.last().header("x-auth-user-id"), Some(""));
}

/// No session, through a front proxy: an API client with a forged identity gets 401; returns
/// what a browser navigation to `/orders?tab=2` got (the caller checks its redirect).
async fn refused_without_a_session(url: &impl Fn(&str) -> String) -> reqwest::Response {
    let api = get_forged(&url("/orders")).await;
    assert_eq!(api.status(), 401);
    client()
        .get(url("/orders?tab=2"))
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .unwrap()
}

/// `GET url` as an API client sending a forged `X-Auth-User-Id`.
async fn get_forged(url: &str) -> reqwest::Response {
    client()
        .get(url)
        .header("accept", "application/json")
        .header("x-auth-user-id", "forged")
        .send()
        .await
        .unwrap()
}
