// Golden vectors and a verifier for Better Auth's cookie cache (`session_data`), produced by Better
// Auth's own code (npm `better-auth` 1.7.25 installed next to this file), for Gatehouse's
// `src/auth/cookie_cache` codec.
//
// Usage (secret from --secret or BETTER_AUTH_SECRET; `now` is fixed so the output is reproducible,
// except for the JWE iv and jti, which Better Auth draws at random):
//
//   node tests/interop/cache.mjs mint   [--secret S] [--now MS] [--max-age SECS] [--version V]
//   node tests/interop/cache.mjs verify [--secret S] [--now MS] [--max-age SECS] [--version V]
//                                       --strategy compact|jwt|jwe [--token T] [--dont-remember]
//                                       [--raw-cookies] VALUE|-
//
// mint: for each strategy, a Better Auth instance (admin plugin, in-memory database holding one
//   fixed user and session) answers a real `GET /get-session` for the fixed session's token. That
//   request takes the database path, where Better Auth mints `session_data` with its own
//   `setCookieCache`. The values are printed as JSON, with the `Set-Cookie` lines and the record.
//   The `dontRemember` entries come from `setCookieCache(ctx, session, true)` itself (Better Auth
//   never mints a cache on `/get-session` for a dont_remember session). `compactChunked` is a
//   compact mint for a user whose `image` is long enough to need chunking.
// verify: a Better Auth instance with the given strategy and an EMPTY in-memory database answers
//   `GET /get-session` with `session_token` (signed, for --token, default the fixed session's) and
//   `session_data=VALUE`. The cache is accepted exactly when the answer is the session (the empty
//   database could not have produced it) and no `Set-Cookie` expires `session_data`. With
//   --raw-cookies, VALUE is the `session_data` cookie pairs themselves (chunks). Prints JSON;
//   exit status 0 = accepted, 1 = rejected, 2 = usage.
//
// Nothing here opens a socket or touches a real database.

import { createHmac } from "node:crypto";
import { betterAuth } from "better-auth";
import { admin } from "better-auth/plugins";
import { memoryAdapter } from "better-auth/adapters/memory";
import { setCookieCache } from "better-auth/cookies";

const EXIT_USAGE = 2;

function usage(message) {
  process.stderr.write(`cache.mjs: ${message}\n`);
  process.exit(EXIT_USAGE);
}

// ---- arguments -------------------------------------------------------------------------------

const argv = process.argv.slice(2);
const mode = argv.shift();
if (mode !== "mint" && mode !== "verify") usage("first argument must be `mint` or `verify`");
const opts = { positional: [] };
while (argv.length > 0) {
  const arg = argv.shift();
  if (arg === "--dont-remember") opts.dontRemember = true;
  else if (arg === "--raw-cookies") opts.rawCookies = true;
  else if (arg.startsWith("--")) {
    if (argv.length === 0) usage(`${arg} needs a value`);
    opts[arg.slice(2)] = argv.shift();
  } else opts.positional.push(arg);
}
const secret = opts.secret ?? process.env.BETTER_AUTH_SECRET;
if (!secret) usage("pass --secret or set BETTER_AUTH_SECRET");
const NOW = Number(opts.now ?? 1795395501238);
if (!Number.isSafeInteger(NOW) || NOW < 0) usage("--now must be milliseconds since the epoch");
const maxAge = Number(opts["max-age"] ?? 300);
if (!Number.isSafeInteger(maxAge) || maxAge <= 0) usage("--max-age must be a positive integer");
const version = opts.version ?? "1";

// ---- a fixed clock: Better Auth and jose read Date.now() and `new Date()` ---------------------

const RealDate = Date;
class FixedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(NOW);
    else super(...args);
  }
  static now() {
    return NOW;
  }
}
globalThis.Date = FixedDate;

// ---- the fixed record ------------------------------------------------------------------------

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
// Fixed absolute dates (not derived from --now) so the Rust tests can rebuild the same record.
const T_USER = 1795395496322; // 2026-11-23T00:58:16.322Z
const T_SESSION = 1795395501213; // 2026-11-23T00:58:21.213Z
const T_EXPIRES = T_SESSION + 7 * DAY; // 2026-11-30T00:58:21.213Z
const TOKEN = "kgkgA28pJNWPyf6bl5FNujooXTtdAXT7";

function fixedRecord(imageLength = 0) {
  return {
    user: {
      id: "knQbAMgZtH1uMBpCJd5UgyQVn5zueLiK",
      name: 'Zoë "Z" O\'Brien \\ / ☃ \u0001 <b>',
      email: "zoe@example.com",
      emailVerified: true,
      image: imageLength > 0 ? "https://img.example/" + "a".repeat(imageLength) : null,
      createdAt: new Date(T_USER),
      updatedAt: new Date(T_USER),
      role: "admin,user",
      banned: false,
      banReason: null,
      banExpires: null,
    },
    session: {
      id: "N72ZlWEfwVBQRyef9QXKEuHq1WtJXET1",
      token: TOKEN,
      userId: "knQbAMgZtH1uMBpCJd5UgyQVn5zueLiK",
      expiresAt: new Date(T_EXPIRES),
      createdAt: new Date(T_SESSION),
      updatedAt: new Date(T_SESSION),
      ipAddress: "203.0.113.7",
      userAgent: 'probe/1.0 (X11; "quoted")',
      impersonatedBy: null,
    },
  };
}

// ---- Better Auth instances -------------------------------------------------------------------

const logger = {
  level: "error",
  log(level, message, ...args) {
    process.stderr.write(`[better-auth ${level}] ${message} ${args.map((a) => JSON.stringify(a)).join(" ")}\n`);
  },
};

function makeAuth(strategy, rows) {
  return betterAuth({
    secret,
    baseURL: "http://127.0.0.1:3000",
    database: memoryAdapter(rows),
    plugins: [admin()],
    session: { cookieCache: { enabled: true, strategy, maxAge, version } },
    telemetry: { enabled: false },
    logger,
  });
}

function signedToken(token) {
  const sig = createHmac("sha256", secret).update(token).digest("base64");
  return encodeURIComponent(`${token}.${sig}`);
}

function sessionDataCookies(setCookies, name) {
  return setCookies.filter((c) => c.startsWith(`${name}=`) || c.startsWith(`${name}.`));
}

// The cookie value: `name=...` or the concatenated chunks `name.0`, `name.1`, ... in order.
function joinedValue(setCookies, name) {
  const pairs = sessionDataCookies(setCookies, name)
    .map((c) => c.split(";")[0])
    .map((p) => [p.slice(0, p.indexOf("=")), decodeURIComponent(p.slice(p.indexOf("=") + 1))])
    .filter(([, v]) => v !== "");
  const whole = pairs.find(([n]) => n === name);
  if (whole) return whole[1];
  return pairs
    .map(([n, v]) => [Number(n.slice(name.length + 1)), v])
    .sort((a, b) => a[0] - b[0])
    .map(([, v]) => v)
    .join("");
}

async function mintViaGetSession(strategy, imageLength = 0) {
  const record = fixedRecord(imageLength);
  const auth = makeAuth(strategy, {
    user: [record.user],
    session: [record.session],
    account: [],
    verification: [],
  });
  const ctx = await auth.$context;
  const name = ctx.authCookies.sessionData.name;
  const { headers } = await auth.api.getSession({
    headers: new Headers({ cookie: `${ctx.authCookies.sessionToken.name}=${signedToken(TOKEN)}` }),
    returnHeaders: true,
  });
  const setCookie = headers.getSetCookie();
  return { value: joinedValue(setCookie, name), setCookie: sessionDataCookies(setCookie, name) };
}

async function mintDontRemember(strategy) {
  const record = fixedRecord();
  const auth = makeAuth(strategy, { user: [], session: [], account: [], verification: [] });
  const context = await auth.$context;
  const name = context.authCookies.sessionData.name;
  const setCookie = [];
  const { serializeCookie } = await import("better-call");
  // The parts of an endpoint context that setCookieCache uses.
  const endpointCtx = {
    context,
    headers: new Headers(),
    setCookie(key, value, options) {
      setCookie.push(serializeCookie(key, value, options));
    },
  };
  await setCookieCache(endpointCtx, record, true);
  return { value: joinedValue(setCookie, name), setCookie: sessionDataCookies(setCookie, name) };
}

function isoRecord(record) {
  return JSON.parse(JSON.stringify(record));
}

async function mint() {
  const vectors = {};
  for (const strategy of ["compact", "jwt", "jwe"]) vectors[strategy] = await mintViaGetSession(strategy);
  for (const strategy of ["compact", "jwt", "jwe"]) {
    vectors[`${strategy}DontRemember`] = await mintDontRemember(strategy);
  }
  vectors.compactChunked = await mintViaGetSession("compact", 5000);
  return {
    betterAuth: (await import("better-auth/package.json", { with: { type: "json" } }).catch(() => null))?.default?.version ?? "1.7.25",
    secret,
    now: NOW,
    maxAge,
    version,
    record: isoRecord(fixedRecord()),
    vectors,
  };
}

async function verify() {
  const strategy = opts.strategy;
  if (!["compact", "jwt", "jwe"].includes(strategy)) usage("--strategy must be compact, jwt or jwe");
  let value = opts.positional[0];
  if (value === undefined) usage("pass the session_data value (or - for stdin)");
  if (value === "-") {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    value = Buffer.concat(chunks).toString("utf8").trim();
  }
  const token = opts.token ?? TOKEN;
  const auth = makeAuth(strategy, { user: [], session: [], account: [], verification: [] });
  const ctx = await auth.$context;
  const name = ctx.authCookies.sessionData.name;
  // --raw-cookies: VALUE is already `Cookie` pairs, e.g. chunks `name.0=...; name.1=...`.
  const dataPairs = opts.rawCookies ? value : `${name}=${value}`;
  let cookie = `${ctx.authCookies.sessionToken.name}=${signedToken(token)}; ${dataPairs}`;
  if (opts.dontRemember) {
    const sig = createHmac("sha256", secret).update("true").digest("base64");
    cookie += `; ${ctx.authCookies.dontRememberToken.name}=${encodeURIComponent(`true.${sig}`)}`;
  }
  let response;
  let setCookie;
  try {
    const result = await auth.api.getSession({ headers: new Headers({ cookie }), returnHeaders: true });
    response = result.response;
    setCookie = result.headers.getSetCookie();
  } catch (error) {
    return { strategy, accepted: false, error: String(error?.message ?? error) };
  }
  const expired = sessionDataCookies(setCookie, name).some((c) => /Max-Age=0/.test(c));
  const accepted = response !== null && response !== undefined && !expired;
  return { strategy, accepted, response: response ? isoRecord(response) : null, setCookie };
}

const out = mode === "mint" ? await mint() : await verify();
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
process.exit(mode === "verify" && !out.accepted ? 1 : 0);
