// Better Auth's own client (`createAuthClient` from `better-auth/client`) running a scripted
// multi-device scenario against a base URL: a Better Auth server, or Gatehouse in front of one.
//
// Usage: node client.mjs <base URL>        (or BASE_URL=<base URL> node client.mjs)
//
// stdout: one JSON line per step:
//   {"step": "...", "device": "A", "call": "getSession", "ok": bool, "status": <HTTP status>,
//    "data": <what the client returned as data>, "error": {"status", "code", "message"} | null,
//    "setCookies": [{"name", "cleared"}], "jar": [cookie names held by the device afterwards]}
// Steps that only derive a value (no request) have no "status". Exit code 0 when the scenario ran
// to the end (whatever the server answered), 1 on a transport or script error, 2 on bad usage.
//
// Node's fetch keeps no cookies, so every device has its own tiny cookie jar, filled and emptied
// from `Set-Cookie` through the client's `fetchOptions` hooks. Every request carries an `Origin`
// equal to the base URL's origin, as a browser on that site would send.

import { createAuthClient } from "better-auth/client";

const baseArg = process.argv[2] ?? process.env.BASE_URL;
if (!baseArg) {
  process.stderr.write("usage: node client.mjs <base URL>\n");
  process.exit(2);
}
let origin;
try {
  origin = new URL(baseArg).origin;
} catch {
  process.stderr.write(`client.mjs: not a URL: ${JSON.stringify(baseArg)}\n`);
  process.exit(2);
}

const PASSWORD = "correct horse battery staple";
const ALICE = { email: "alice@example.com", password: PASSWORD, name: "Alice Liddell" };
const EVE = { email: "eve@example.com", password: PASSWORD, name: "Eve Intruder" };

/** Parses one `Set-Cookie` header: name, value and whether it deletes the cookie. */
function parseSetCookie(header) {
  const [pair, ...attributes] = header.split(";");
  const eq = pair.indexOf("=");
  const name = (eq < 0 ? pair : pair.slice(0, eq)).trim();
  const value = eq < 0 ? "" : pair.slice(eq + 1).trim();
  let cleared = false;
  for (const attribute of attributes) {
    const [key, ...rest] = attribute.split("=");
    const k = key.trim().toLowerCase();
    const v = rest.join("=").trim();
    if (k === "max-age" && Number(v) <= 0) cleared = true;
    if (k === "expires" && Date.parse(v) <= Date.now()) cleared = true;
  }
  return { name, value, cleared };
}

/** A device: one cookie jar and one Better Auth client that uses it. */
function device(label, jar = new Map()) {
  const d = { label, jar, lastSetCookies: [] };
  d.client = createAuthClient({
    baseURL: origin,
    fetchOptions: {
      onRequest(context) {
        context.headers.set("origin", origin);
        if (d.jar.size > 0) {
          context.headers.set(
            "cookie",
            [...d.jar].map(([name, value]) => `${name}=${value}`).join("; "),
          );
        }
        d.lastSetCookies = [];
      },
      onResponse(context) {
        for (const header of context.response.headers.getSetCookie()) {
          const cookie = parseSetCookie(header);
          d.lastSetCookies.push({ name: cookie.name, cleared: cookie.cleared });
          if (cookie.cleared || cookie.value === "") d.jar.delete(cookie.name);
          else d.jar.set(cookie.name, cookie.value);
        }
      },
    },
  });
  return d;
}

/** Another device holding a copy of `d`'s cookies as they are now (a stale copy of its jar). */
function copyOf(d, label) {
  return device(label, new Map(d.jar));
}

function errorOf(error) {
  if (!error) return null;
  return { status: error.status ?? null, code: error.code ?? null, message: error.message ?? null };
}

function emit(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

/** Runs one client call on device `d` and prints what it returned. */
async function step(name, d, call, run) {
  const result = await run(d.client);
  const error = errorOf(result?.error);
  const line = {
    step: name,
    device: d.label,
    call,
    ok: !error,
    status: error ? error.status : 200,
    data: result?.data ?? null,
    error,
    setCookies: d.lastSetCookies,
    jar: [...d.jar.keys()],
  };
  emit(line);
  return line;
}

async function main() {
  const A = device("A");
  const B = device("B");
  const C = device("C");
  const E = device("E");

  // Three devices of the same user.
  const signUp = await step("sign-up A", A, "signUp.email", (c) => c.signUp.email(ALICE));
  await step("sign-in B", B, "signIn.email", (c) =>
    c.signIn.email({ email: ALICE.email, password: ALICE.password }),
  );
  await step("sign-in C", C, "signIn.email", (c) =>
    c.signIn.email({ email: ALICE.email, password: ALICE.password }),
  );

  await step("get-session A", A, "getSession", (c) => c.getSession());
  const sessionOfC = await step("get-session C", C, "getSession", (c) => c.getSession());
  const listed = await step("list-sessions A (3)", A, "listSessions", (c) => c.listSessions());

  // The `token` A's list gives for C's session (matched by session id), revoked from A.
  const cId = sessionOfC.data?.session?.id;
  const cEntry = Array.isArray(listed.data) ? listed.data.find((s) => s.id === cId) : undefined;
  emit({ step: "pick C's token from A's list", device: "A", call: "derive", ok: cEntry !== undefined, found: cEntry !== undefined });
  await step("revoke-session A -> C", A, "revokeSession", (c) =>
    c.revokeSession({ token: cEntry?.token ?? "missing" }),
  );
  await step("get-session C after revoke (null)", C, "getSession", (c) => c.getSession());
  await step("list-sessions A (2)", A, "listSessions", (c) => c.listSessions());

  // Another user: A must not be able to revoke Eve's session, by token or by id.
  const eveSignUp = await step("sign-up E (other user)", E, "signUp.email", (c) => c.signUp.email(EVE));
  const eveSession = await step("get-session E", E, "getSession", (c) => c.getSession());
  await step("revoke-session A -> E by E's token (foreign)", A, "revokeSession", (c) =>
    c.revokeSession({ token: eveSignUp.data?.token ?? "missing" }),
  );
  await step("revoke-session A -> E by E's session id (foreign)", A, "revokeSession", (c) =>
    c.revokeSession({ token: eveSession.data?.session?.id ?? "missing" }),
  );
  await step("get-session E after foreign revokes (valid)", E, "getSession", (c) => c.getSession());
  await step("list-sessions A still (2)", A, "listSessions", (c) => c.listSessions());

  // Revoke every other session of A: B goes, A stays.
  await step("revoke-other-sessions A", A, "revokeOtherSessions", (c) => c.revokeOtherSessions());
  await step("get-session B (null)", B, "getSession", (c) => c.getSession());
  await step("get-session A still valid", A, "getSession", (c) => c.getSession());
  await step("list-sessions A (1)", A, "listSessions", (c) => c.listSessions());

  // Sign out A; a stale copy of A's cookies must not work either.
  const staleA = copyOf(A, "A-stale");
  await step("sign-out A", A, "signOut", (c) => c.signOut());
  await step("get-session A after sign-out (null)", A, "getSession", (c) => c.getSession());
  await step("get-session A's old cookie after sign-out (null)", staleA, "getSession", (c) => c.getSession());

  // A fourth sign-in, then revoke all of the user's sessions from it.
  const D = device("D");
  await step("sign-in D", D, "signIn.email", (c) =>
    c.signIn.email({ email: ALICE.email, password: ALICE.password }),
  );
  await step("get-session D", D, "getSession", (c) => c.getSession());
  const staleD = copyOf(D, "D-stale");
  await step("revoke-sessions D", D, "revokeSessions", (c) => c.revokeSessions());
  await step("get-session D after revoke-sessions (null)", D, "getSession", (c) => c.getSession());
  await step("get-session D's old cookie after revoke-sessions (null)", staleD, "getSession", (c) => c.getSession());

  // Eve was never touched.
  await step("get-session E at the end (valid)", E, "getSession", (c) => c.getSession());
  await step("list-sessions E (1)", E, "listSessions", (c) => c.listSessions());

  if (!signUp.ok) process.stderr.write("client.mjs: sign-up failed; later steps are meaningless\n");
}

main().catch((err) => {
  process.stderr.write(`client.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
