// Node's http server reporting what a typical Node app resolves, for tests/hostile.rs: the
// WHATWG URL's pathname (dot segments, `%2e` and `\` resolved), percent-decoded as routers do.
// Prints its port on the first line of stdout.
import http from "node:http";

const first = (value) => (Array.isArray(value) ? value.join(",") : value ?? "");

const server = http.createServer((req, res) => {
  const pathname = new URL(req.url, "http://upstream.invalid").pathname;
  let path;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    path = pathname;
  }
  const h = req.headers;
  const body = [
    "upstream=node",
    `path=${path}`,
    `host=${first(h.host)}`,
    `user=${first(h["x-auth-user-id"])}`,
    `role=${first(h["x-auth-user-role"])}`,
    `override=${first(h["x-original-url"] ?? h["x-rewrite-url"])}`,
    `real_ip=${first(h["x-real-ip"] ?? h["x-client-ip"] ?? h["true-client-ip"])}`,
    `method=${req.method}`,
    `method_override=${first(h["x-http-method-override"] ?? h["x-http-method"] ?? h["x-method-override"])}`,
    "",
  ].join("\n");
  res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
