// Better Auth's own client with the organization, multi-session and admin client plugins, running
// a scripted scenario against a base URL: a Better Auth server started with ORGANIZATION=1 and
// MULTI_SESSION=1, or Gatehouse in front of one.
//
// Usage: node plugins.mjs <base URL>
//
// stdout: one JSON line per step, {"step": "...", "ok": bool, "status": <HTTP status>, "seen":
// <what the step checks, normalised so that two runs on two databases compare equal>}. Exit code
// 0 when the scenario ran to the end (whatever the server answered), 1 on a transport or script
// error, 2 on bad usage.
//
// One browser: one cookie jar shared by every call, filled and emptied from `Set-Cookie`, and an
// `Origin` equal to the base URL's origin on every request.

import { createAuthClient } from "better-auth/client";
import { adminClient, multiSessionClient, organizationClient } from "better-auth/client/plugins";

const baseArg = process.argv[2];
if (!baseArg) {
  process.stderr.write("usage: node plugins.mjs <base URL>\n");
  process.exit(2);
}
const origin = new URL(baseArg).origin;
const PASSWORD = "correct horse battery staple";

const jar = new Map();
const client = createAuthClient({
  baseURL: origin,
  plugins: [organizationClient(), multiSessionClient(), adminClient()],
  fetchOptions: {
    onRequest(context) {
      context.headers.set("origin", origin);
      if (jar.size > 0) {
        context.headers.set("cookie", [...jar].map(([n, v]) => `${n}=${v}`).join("; "));
      }
    },
    onResponse(context) {
      for (const header of context.response.headers.getSetCookie()) {
        const [pair, ...attributes] = header.split(";");
        const eq = pair.indexOf("=");
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        const cleared = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
        if (cleared || value === "") jar.delete(name);
        else jar.set(name, value);
      }
    },
  },
});

async function step(name, run, see) {
  const result = await run();
  const error = result?.error ?? null;
  const line = {
    step: name,
    ok: !error,
    status: error ? error.status ?? null : 200,
    seen: see(result?.data ?? null),
  };
  process.stdout.write(JSON.stringify(line) + "\n");
  return result?.data ?? null;
}

const who = (data) => data?.user?.email ?? null;

async function main() {
  await step(
    "sign-up ada",
    () => client.signUp.email({ email: "ada@example.com", password: PASSWORD, name: "Ada" }),
    who,
  );
  const org = await step(
    "create organization",
    () => client.organization.create({ name: "Acme", slug: "acme" }),
    (d) => d?.slug ?? null,
  );
  await step(
    "set active organization",
    () => client.organization.setActive({ organizationId: org?.id ?? "missing" }),
    (d) => d?.slug ?? null,
  );
  await step("get-session has the active organization", () => client.getSession(), (d) => ({
    email: who(d),
    activeOrganization: d?.session?.activeOrganizationId === org?.id,
    impersonatedBy: d?.session?.impersonatedBy ?? null,
    role: d?.user?.role ?? null,
  }));
  await step(
    "active member",
    () => client.organization.getActiveMember(),
    (d) => d?.role ?? null,
  );
  await step(
    "sign-up bob in the same browser",
    () => client.signUp.email({ email: "bob@example.com", password: PASSWORD, name: "Bob" }),
    who,
  );
  await step("get-session is bob", () => client.getSession(), (d) => ({
    email: who(d),
    activeOrganization: d?.session?.activeOrganizationId ?? null,
  }));
  await step("device sessions", () => client.multiSession.listDeviceSessions(), (d) =>
    Array.isArray(d) ? d.map((s) => s.user.email).sort() : d,
  );
  await step("sign-out", () => client.signOut(), (d) => d?.success ?? null);
  await step("get-session after sign-out", () => client.getSession(), (d) => d);
  await step("device sessions after sign-out", () => client.multiSession.listDeviceSessions(), (d) =>
    Array.isArray(d) ? d.map((s) => s.user.email).sort() : d,
  );
  process.stdout.write(JSON.stringify({ step: "cookies left", ok: true, status: 200, seen: [...jar.keys()].sort() }) + "\n");
}

main().catch((err) => {
  process.stderr.write(`plugins.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
