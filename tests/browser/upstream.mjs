// The app behind the gateway in the browser test: answers every request with 200 and the
// identity headers Gatehouse added, as JSON, except /cors-page (below), which the browser loads
// straight from the upstream's own origin. Listens on 127.0.0.1 (PORT, default any free
// port) and prints `READY <port>` on stdout once it does; stops on SIGTERM or SIGINT.
import http from "node:http";

// A page on the upstream's own origin that calls the gateway's get-session with credentials and
// a custom header (so the browser sends a CORS preflight first); its title says what happened:
// `ok:<email>`, `ok:null`, or `blocked` when the browser refused the answer.
const CORS_PAGE = `<!doctype html><title>pending</title><script>
const gateway = new URLSearchParams(location.search).get("gateway");
fetch(gateway + "/api/auth/get-session", { credentials: "include", headers: { "x-app": "1" } })
  .then((r) => r.json())
  .then((j) => { document.title = "ok:" + (j && j.user ? j.user.email : "null"); })
  .catch(() => { document.title = "blocked"; });
</script>`;

const server = http.createServer((req, res) => {
  if (req.url.startsWith("/cors-page")) {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(CORS_PAGE);
    return;
  }
  const identity = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-auth-")));
  const body = JSON.stringify({ upstream: "ok", method: req.method, path: req.url, identity });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
});

server.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
