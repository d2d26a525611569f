// The app behind the gateway in the browser test: answers every request with 200 and the
// identity headers Gatehouse added, as JSON. Listens on 127.0.0.1 (PORT, default any free
// port) and prints `READY <port>` on stdout once it does; stops on SIGTERM or SIGINT.
import http from "node:http";

const server = http.createServer((req, res) => {
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
