//! The physical limit for any Pingora gateway, for `benches/load/run.sh` and `callgrind.sh`: a
//! pass-through proxy built from the same Pingora version and allocator as Gatehouse, doing
//! nothing but choose the one upstream (no routing, no authentication, no header edits, no
//! logging, no metrics). Same peer settings as Gatehouse's (connect and read timeouts) and
//! Pingora's default connection pool, so what Gatehouse spends above it is its own work.
//!
//! Usage: `bare_pingora LISTEN UPSTREAM [THREADS]`, e.g. `bare_pingora 127.0.0.1:8081
//! 127.0.0.1:8082 1`. Stops on SIGINT or SIGTERM.

use std::time::Duration;

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct PassThrough {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for PassThrough {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let mut peer = HttpPeer::new(self.upstream.as_str(), false, String::new());
        peer.options.connection_timeout = Some(Duration::from_secs(5));
        peer.options.read_timeout = Some(Duration::from_secs(60));
        Ok(Box::new(peer))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listen, upstream) = match (args.first(), args.get(1)) {
        (Some(listen), Some(upstream)) => (listen.clone(), upstream.clone()),
        _ => {
            eprintln!("usage: bare_pingora LISTEN UPSTREAM [THREADS]");
            std::process::exit(2);
        }
    };
    let threads = args
        .get(2)
        .map_or(1, |t| t.parse().expect("THREADS is a number"));
    let port = listen.rsplit(':').next().unwrap_or("0");
    let conf = ServerConf {
        threads,
        pid_file: format!("/tmp/bare-pingora-{port}.pid"),
        upgrade_sock: format!("/tmp/bare-pingora-{port}.sock"),
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(0),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, PassThrough { upstream });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever();
}
