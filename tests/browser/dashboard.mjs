// Browser test of the sessions dashboard (<mount>/ on the gateway), driven with playwright-core
// in Debian's Chromium. run.sh starts PostgreSQL's database, Better Auth, an upstream and the
// gateway, then runs this with:
//
//   GATEWAY_URL    the gateway, e.g. http://127.0.0.1:PORT (also Better Auth's BETTER_AUTH_URL)
//   UPSTREAM_PORT  the upstream's own port (its /cors-page, a trusted origin at 127.0.0.1)
//   DATABASE_URL   the database both use (read and adjusted here with psql)
//   CHROMIUM       the browser (default /usr/bin/chromium)
//   SCREENSHOTS    where screenshots go (default ./screenshots beside this file)
//
// Prints `PASS <step>` or `FAIL <step>: <why>` per step, then `browser: N passed, M failed`.
// Exits 1 when a step failed. Steps run in order and share state; a step whose precondition
// failed fails too, naming it.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const GATEWAY = required("GATEWAY_URL").replace(/\/$/, "");
const DATABASE_URL = required("DATABASE_URL");
const UPSTREAM_PORT = required("UPSTREAM_PORT");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SCREENSHOTS = process.env.SCREENSHOTS || path.join(HERE, "screenshots");
const DASHBOARD = `${GATEWAY}/_gatehouse/`;
const STEP_MS = 15_000; // each step, and each wait inside one
const TOTAL_MS = 150_000; // the whole run
const PASSWORD = "correct horse battery staple";
const UA = {
  mac: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  win: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  phone: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  curl: "curl/8.5.0",
};
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`dashboard.mjs: ${name} must be set (run tests/browser/run.sh)`);
    process.exit(2);
  }
  return value;
}

// ---------- a tiny runner ----------

const results = { passed: 0, failed: 0 };
const failedSteps = new Set();

function printSummary() {
  console.log(`browser: ${results.passed} passed, ${results.failed} failed`);
}

const deadline = setTimeout(() => {
  console.log(`FAIL whole run: still running after ${TOTAL_MS / 1000} s`);
  results.failed++;
  printSummary();
  process.exit(1);
}, TOTAL_MS);
deadline.unref();

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs one step; `needs` names steps that must have passed. */
async function step(name, fn, { needs = [], ms = STEP_MS } = {}) {
  const started = Date.now();
  try {
    const missing = needs.filter((n) => failedSteps.has(n));
    if (missing.length) throw new Error(`skipped: needs ${missing.join(", ")}`);
    await withTimeout(Promise.resolve().then(fn), ms, name);
    results.passed++;
    console.log(`PASS ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.failed++;
    failedSteps.add(name);
    const why = (e && e.message ? e.message : String(e)).split("\n").slice(0, 12).join("\n    ");
    console.log(`FAIL ${name}: ${why}`);
  }
}

/** Retries `check` (which throws when not yet true) until it passes or `ms` runs out. */
async function eventually(check, ms = STEP_MS - 2_000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > until) throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------- the database ----------

function sql(query) {
  return execFileSync("psql", [DATABASE_URL, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", query], {
    encoding: "utf8",
    timeout: 10_000,
  }).trim();
}
const lit = (s) => `'${String(s).replaceAll("'", "''")}'`;
const count = (where = "true") => Number(sql(`select count(*) from "session" where ${where}`));

// ---------- HTTP through the gateway, outside the browser ----------

async function post(pathname, body, { cookie, ua = UA.curl } = {}) {
  const headers = { "content-type": "application/json", origin: GATEWAY, "user-agent": ua };
  if (cookie) headers.cookie = cookie;
  const res = await fetch(GATEWAY + pathname, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${pathname} answered ${res.status}: ${text.slice(0, 300)}`);
  const cookies = res.headers.getSetCookie().map((c) => c.split(";")[0]);
  const session = cookies.find((c) => /^(__Secure-)?better-auth\.session_token=/.test(c));
  assert.ok(session, `POST ${pathname} set no session cookie: ${cookies.join(", ")}`);
  const json = JSON.parse(text);
  return { cookie: session, token: json.token, user: json.user };
}

const signUp = (email, name, ua) => post("/api/auth/sign-up/email", { email, name, password: PASSWORD }, { ua });
const signIn = (email, ua) => post("/api/auth/sign-in/email", { email, password: PASSWORD }, { ua });
const sessionIdOf = (token) => sql(`select id from "session" where token = ${lit(token)}`);

async function getWithCookie(pathname, cookie) {
  const res = await fetch(GATEWAY + pathname, {
    headers: { cookie, accept: "application/json" },
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return res.status;
}

// ---------- the page ----------

async function rows(page) {
  return page.$$eval('[data-testid="session-row"]', (trs) =>
    trs.map((tr) => ({
      id: tr.dataset.sessionId,
      ip: tr.querySelector(".ip")?.textContent ?? "",
      location: tr.querySelector('[data-testid="location"]')?.textContent ?? "",
      status: tr.querySelector(".badge")?.textContent ?? "",
      email: tr.querySelector(".user-email")?.textContent ?? "",
    })),
  );
}
const text = async (page, testId) => ((await page.getByTestId(testId).textContent()) ?? "").trim();
const row = (page, id) => page.locator(`[data-testid="session-row"][data-session-id="${id}"]`);
const dialogOpen = (page, testId) => page.getByTestId(testId).evaluate((d) => d.open);

async function waitForList(page, expectedIds) {
  return eventually(async () => {
    const ids = (await rows(page)).map((r) => r.id).sort();
    assert.deepEqual(ids, [...expectedIds].sort());
    assert.equal(await page.locator("#sessions-table[aria-busy]").count(), 0, "list still loading");
  });
}

// ---------- the run ----------

const s = {}; // state shared by the steps
let browser;
let admin; // { context, page }
const consoleProblems = [];

try {
  await step("setup: users and sessions through the gateway", async () => {
    const adminUser = await signUp("admin@example.com", "Ada Admin", UA.mac);
    s.adminSignupSessionId = sessionIdOf(adminUser.token);
    sql(`update "user" set role = 'admin' where email = 'admin@example.com'`);
    await signUp("user@example.com", "Norma User", UA.win);
    const carol = await signUp("carol@example.com", "Carol London", UA.mac);
    const carol2 = await signIn("carol@example.com", UA.phone);
    const dave = await signUp("dave@example.com", "Dave Office", UA.win);
    const erin = await signUp("erin@example.com", "Erin Sweden", UA.phone);
    await signIn("erin@example.com", UA.mac);
    const frank = await signUp("frank@example.com", "Frank Expired", UA.curl);
    const frank2 = await signIn("frank@example.com", UA.win);
    // The session the dashboard deletes: its cookie must stop working.
    const victim = await signIn("dave@example.com", UA.phone);

    s.carolUserId = carol.user.id;
    s.carolSessionIds = [sessionIdOf(carol.token), sessionIdOf(carol2.token)];
    s.erinSessionId = sessionIdOf(erin.token);
    s.daveSessionId = sessionIdOf(dave.token);
    s.expiredId = sessionIdOf(frank.token);
    s.victimId = sessionIdOf(victim.token);
    s.victimCookie = victim.cookie;
    s.frank2Cookie = frank2.cookie;

    // Locations from the offline test database (tests/fixtures/geo/test-city.mmdb).
    sql(`update "session" set "ipAddress" = '81.2.69.160' where "userId" = ${lit(carol.user.id)}`);
    sql(`update "session" set "ipAddress" = '89.160.20.112' where "userId" = ${lit(erin.user.id)}`);
    sql(`update "session" set "ipAddress" = '10.0.0.5' where id = ${lit(s.daveSessionId)}`);
    sql(`update "session" set "expiresAt" = now() - interval '2 hours' where id = ${lit(s.expiredId)}`);

    // The victim's cookie works through the gateway before it is deleted.
    assert.equal(await getWithCookie("/app/private", s.victimCookie), 200, "victim cookie before delete");
    assert.equal(await getWithCookie("/app/private", "better-auth.session_token=nope.nope"), 401, "bad cookie");
    assert.ok(count() >= 8, `only ${count()} sessions`);
  });

  await step("browser starts (playwright-core, Debian Chromium)", async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: STEP_MS });
  }, { needs: [] });

  await step("admin signs in and the dashboard shows every session", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", timezoneId: "UTC" });
    context.setDefaultTimeout(STEP_MS - 2_000);
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: GATEWAY });
    const page = await context.newPage();
    page.on("pageerror", (e) => consoleProblems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") consoleProblems.push(`console.${m.type()}: ${m.text()}`);
    });
    admin = { context, page };
    const res = await page.request.post(`${GATEWAY}/api/auth/sign-in/email`, {
      data: { email: "admin@example.com", password: PASSWORD },
      headers: { Origin: GATEWAY },
    });
    assert.equal(res.status(), 200, `admin sign-in: ${res.status()} ${await res.text()}`);
    s.adminSessionId = sessionIdOf((await res.json()).token);
    const nav = await page.goto(DASHBOARD);
    assert.equal(nav.status(), 200);
    assert.match(nav.headers()["content-security-policy"] ?? "", /default-src 'none'/);
    s.total = count();
    s.allIds = sql(`select id from "session"`).split("\n");
    await eventually(async () => assert.equal(await text(page, "total-count"), String(s.total)));
    await waitForList(page, s.allIds);
    assert.equal(await page.getByTestId("error-banner").isVisible(), false, "error banner shown");
    assert.equal(await text(page, "page-info"), "Page 1 of 1");
  }, { needs: ["setup: users and sessions through the gateway", "browser starts (playwright-core, Debian Chromium)"] });

  const loaded = ["admin signs in and the dashboard shows every session"];

  await step("rows show resolved locations (mmdb)", async () => {
    const { page } = admin;
    const all = await eventually(async () => {
      const r = await rows(page);
      assert.equal(r.filter((x) => x.location.includes("Resolving")).length, 0, "still resolving");
      return r;
    });
    const by = Object.fromEntries(all.map((r) => [r.id, r]));
    for (const id of s.carolSessionIds) assert.match(by[id].location, /London.*United Kingdom/, `carol ${id}`);
    assert.match(by[s.erinSessionId].location, /Linköping.*Sweden/);
    assert.equal(by[s.daveSessionId].location, "Private network");
    assert.equal(by[s.adminSessionId].location, "Localhost", "a session signed in through the gateway (127.0.0.1)");
    assert.equal(by[s.adminSessionId].ip, "127.0.0.1");
  }, { needs: loaded });

  await step("status filter: Expired, then Active", async () => {
    const { page } = admin;
    await page.getByTestId("status-filter").selectOption("expired");
    await waitForList(page, [s.expiredId]);
    assert.equal((await rows(page))[0].status, "Expired");
    assert.equal(await text(page, "total-count"), "1");
    await page.getByTestId("status-filter").selectOption("active");
    const active = s.allIds.filter((id) => id !== s.expiredId);
    await waitForList(page, active);
    assert.ok((await rows(page)).every((r) => r.status === "Active"));
    assert.equal(await text(page, "total-count"), String(active.length));
    assert.match(page.url(), /status=active/);
    await page.getByTestId("status-filter").selectOption("all");
    await waitForList(page, s.allIds);
  }, { needs: loaded });

  await step("search by part of a session id finds exactly that row", async () => {
    const { page } = admin;
    const part = s.erinSessionId.slice(5, 17);
    await page.getByTestId("search-input").fill(part);
    await waitForList(page, [s.erinSessionId]);
    assert.equal(await text(page, "total-count"), "1");
    await page.getByTestId("search-input").fill("carol@example");
    await waitForList(page, s.carolSessionIds);
    await page.getByTestId("search-input").fill("");
    await waitForList(page, s.allIds);
  }, { needs: loaded });

  await step("View opens the session modal; Copy; Escape closes it", async () => {
    const { page } = admin;
    await row(page, s.erinSessionId).getByTestId("view-button").click();
    await page.getByTestId("session-modal").waitFor({ state: "visible" });
    await eventually(async () => assert.equal(await page.locator("#d-session-id").textContent(), s.erinSessionId));
    assert.equal(await page.locator("#d-user-email").textContent(), "erin@example.com");
    await eventually(async () => assert.match(await page.locator("#d-location").textContent(), /Linköping.*\(SE\)/));
    assert.equal(await page.locator("#d-ip").textContent(), "89.160.20.112");
    await page.getByTestId("copy-session-id").click();
    await eventually(async () => assert.equal(await text(page, "copy-session-id"), "Copied"));
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), s.erinSessionId);
    await page.keyboard.press("Escape");
    await page.getByTestId("session-modal").waitFor({ state: "hidden" });
    assert.equal(await dialogOpen(page, "session-modal"), false);
  }, { needs: loaded });

  await step("Delete revokes a session: row, count, database, cookie", async () => {
    const { page } = admin;
    const before = count();
    await row(page, s.victimId).getByTestId("delete-button").click();
    await page.getByTestId("confirm-modal").waitFor({ state: "visible" });
    assert.match(await page.locator("#confirm-text").textContent(), /dave@example\.com/);
    await page.getByTestId("confirm-delete").click();
    await row(page, s.victimId).waitFor({ state: "detached" });
    await eventually(async () => assert.equal(await text(page, "total-count"), String(before - 1)));
    assert.equal(count(`id = ${lit(s.victimId)}`), 0, "the row is still in the database");
    assert.equal(count(), before - 1);
    assert.equal(await dialogOpen(page, "confirm-modal"), false);
    assert.equal(await getWithCookie("/app/private", s.victimCookie), 401, "the deleted session's cookie");
    s.allIds = s.allIds.filter((id) => id !== s.victimId);
    await waitForList(page, s.allIds);
  }, { needs: loaded });

  await step("Seed 3 sessions", async () => {
    const { page } = admin;
    const before = count();
    await page.getByTestId("seed-button").click();
    await page.getByTestId("seed-modal").waitFor({ state: "visible" });
    assert.equal(await page.getByTestId("seed-tab-sessions").getAttribute("aria-selected"), "true");
    await page.getByTestId("seed-count").fill("3");
    await page.getByTestId("seed-submit").click();
    await eventually(async () => assert.match(await text(page, "seed-result"), /^created 3, failed 0$/));
    assert.equal(count(), before + 3);
    await eventually(async () => assert.equal(await text(page, "total-count"), String(before + 3)));
    await page.keyboard.press("Escape");
    await page.getByTestId("seed-modal").waitFor({ state: "hidden" });
    s.allIds = sql(`select id from "session"`).split("\n");
    await waitForList(page, s.allIds);
    const seeded = (await rows(page)).filter((r) => r.ip !== "127.0.0.1" && !r.location.match(/London|Linköping|Private|Localhost/));
    assert.equal(seeded.length, 3, "three rows from seeded (random public) addresses");
  }, { needs: loaded });

  await step("screenshots (1280 px and 400 px wide)", async () => {
    const { page } = admin;
    mkdirSync(SCREENSHOTS, { recursive: true });
    await eventually(async () => assert.equal(await page.getByText("Resolving...").count(), 0));
    await page.screenshot({ path: path.join(SCREENSHOTS, "dashboard.png"), fullPage: true });
    await row(page, s.erinSessionId).getByTestId("view-button").click();
    await page.getByTestId("session-modal").waitFor({ state: "visible" });
    await eventually(async () => assert.match(await page.locator("#d-location").textContent(), /Linköping/));
    await page.screenshot({ path: path.join(SCREENSHOTS, "dashboard-modal.png") });
    await page.keyboard.press("Escape");
    await page.getByTestId("session-modal").waitFor({ state: "hidden" });
    await page.setViewportSize({ width: 400, height: 900 });
    await page.screenshot({ path: path.join(SCREENSHOTS, "dashboard-narrow.png") });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    await page.setViewportSize({ width: 1280, height: 900 });
    assert.ok(overflow <= 1, `at 400 px the page scrolls sideways by ${overflow} px`);
  }, { needs: loaded });

  await step("sort: Created (oldest first) puts the first sign-up on top", async () => {
    const { page } = admin;
    await page.getByTestId("sort-select").selectOption("createdAt:asc");
    await eventually(async () => assert.equal((await rows(page))[0]?.id, s.adminSignupSessionId));
    assert.match(page.url(), /sort=createdAt%3Aasc|sort=createdAt:asc/);
    await page.getByTestId("sort-select").selectOption("createdAt:desc");
    await eventually(async () => assert.notEqual((await rows(page))[0]?.id, s.adminSignupSessionId));
  }, { needs: loaded });

  await step("pages: more than 25 sessions split over two pages", async () => {
    const { page } = admin;
    const before = count();
    const seed = Math.max(1, 30 - before);
    await page.getByTestId("seed-button").click();
    await page.getByTestId("seed-count").fill(String(seed));
    await page.getByTestId("seed-submit").click();
    await eventually(async () => assert.equal(await text(page, "seed-result"), `created ${seed}, failed 0`));
    await page.keyboard.press("Escape");
    const total = count();
    await eventually(async () => assert.equal(await text(page, "total-count"), String(total)));
    await eventually(async () => assert.equal(await text(page, "page-info"), "Page 1 of 2"));
    assert.equal((await rows(page)).length, 25);
    assert.equal(await page.getByTestId("prev-page").isDisabled(), true);
    await page.getByTestId("next-page").click();
    await eventually(async () => assert.equal(await text(page, "page-info"), "Page 2 of 2"));
    await eventually(async () => assert.equal((await rows(page)).length, total - 25));
    assert.equal(await page.getByTestId("next-page").isDisabled(), true);
    await page.getByTestId("prev-page").click();
    await eventually(async () => assert.equal(await text(page, "page-info"), "Page 1 of 2"));
  }, { needs: loaded });

  await step("revoke all of a user's sessions from the modal", async () => {
    const { page } = admin;
    // Seeding gave random users more sessions: carol's are whatever the database holds now.
    const carols = sql(`select id from "session" where "userId" = ${lit(s.carolUserId)}`).split("\n");
    assert.ok(carols.length >= 2);
    const others = count() - carols.length;
    await page.getByTestId("search-input").fill("carol@example.com");
    await waitForList(page, carols);
    await row(page, s.carolSessionIds[0]).getByTestId("view-button").click();
    await page.getByTestId("session-modal").waitFor({ state: "visible" });
    await page.getByTestId("revoke-user-sessions").click();
    await page.getByTestId("confirm-modal").waitFor({ state: "visible" });
    await page.getByTestId("confirm-delete").click();
    await page.getByTestId("session-modal").waitFor({ state: "hidden" });
    await eventually(async () => assert.equal(count(`"userId" = ${lit(s.carolUserId)}`), 0));
    await waitForList(page, []);
    assert.equal(await text(page, "total-count"), "0");
    assert.equal(count(), others, "other users' sessions are kept");
    await page.getByTestId("search-input").fill("");
    await eventually(async () => assert.equal(await text(page, "total-count"), String(others)));
  }, { needs: loaded });

  await step("Delete session from the modal", async () => {
    const { page } = admin;
    const target = s.daveSessionId; // 10.0.0.5
    const before = count();
    await page.getByTestId("search-input").fill("10.0.0.5");
    await waitForList(page, [target]);
    await row(page, target).getByTestId("view-button").click();
    await page.getByTestId("session-modal").waitFor({ state: "visible" });
    await eventually(async () => assert.equal(await page.locator("#d-location").textContent(), "Private network"));
    await page.getByTestId("modal-delete-button").click();
    await page.getByTestId("confirm-modal").waitFor({ state: "visible" });
    await page.getByTestId("confirm-delete").click();
    await page.getByTestId("session-modal").waitFor({ state: "hidden" });
    await row(page, target).waitFor({ state: "detached" });
    assert.equal(count(`id = ${lit(target)}`), 0);
    assert.equal(count(), before - 1);
    await page.getByTestId("search-input").fill("");
    await eventually(async () => assert.equal(await text(page, "total-count"), String(before - 1)));
  }, { needs: loaded });

  await step("Seed accounts tab, and a bad count is refused in the form", async () => {
    const { page } = admin;
    const accounts = () => Number(sql(`select count(*) from "account"`));
    const before = accounts();
    const sessions = count();
    await page.getByTestId("seed-button").click();
    await page.getByTestId("seed-modal").waitFor({ state: "visible" });
    await page.getByTestId("seed-tab-accounts").click();
    assert.equal(await page.getByTestId("seed-tab-accounts").getAttribute("aria-selected"), "true");
    assert.equal(await text(page, "seed-submit"), "Seed accounts");
    await page.getByTestId("seed-count").fill("0");
    await page.getByTestId("seed-submit").click();
    await eventually(async () => assert.equal(await text(page, "seed-result"), "Enter a whole number from 1 to 100."));
    assert.equal(await page.getByTestId("seed-count").getAttribute("aria-invalid"), "true");
    await page.getByTestId("seed-count").fill("2");
    await page.getByTestId("seed-submit").click();
    await eventually(async () => assert.equal(await text(page, "seed-result"), "created 2, failed 0"));
    assert.equal(accounts(), before + 2);
    assert.equal(count(), sessions, "seeding accounts made no sessions");
    await page.getByTestId("seed-tab-sessions").click();
    await page.keyboard.press("Escape");
    await page.getByTestId("seed-modal").waitFor({ state: "hidden" });
  }, { needs: loaded });

  await step("filters and search are restored from the address", async () => {
    const { page } = admin;
    await page.goto(`${DASHBOARD}?status=expired&search=frank`);
    await waitForList(page, [s.expiredId]);
    assert.equal(await page.getByTestId("status-filter").inputValue(), "expired");
    assert.equal(await page.getByTestId("search-input").inputValue(), "frank");
    await page.goto(DASHBOARD);
    await eventually(async () => assert.equal(await text(page, "total-count"), String(count())));
  }, { needs: loaded });

  await step("past the server's count limit: \"10,000+\", and Next while pages are full", async () => {
    const { page } = admin;
    // The server stops counting at 10,000 matches; stand in for a table that large by marking the
    // real answers as capped (this database holds about 30 sessions).
    const capped = async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      await route.fulfill({ response, json: { ...body, total: 10000, totalExact: false } });
    };
    // Between one and two full pages of real sessions.
    if (count() < 26) {
      const res = await page.request.post(`${DASHBOARD}api/seed/sessions`, {
        data: { count: 26 - count() },
        headers: { Origin: GATEWAY },
      });
      assert.equal(res.status(), 200);
    }
    assert.ok(count() < 50, "at most two pages");
    await page.route("**/_gatehouse/api/sessions?*", capped);
    try {
      await page.goto(DASHBOARD);
      await eventually(async () => assert.equal(await text(page, "total-count"), "10,000+"));
      assert.equal(await text(page, "page-info"), "Page 1 of 400+");
      assert.equal((await rows(page)).length, 25);
      assert.equal(await page.getByTestId("next-page").isDisabled(), false);
      await page.getByTestId("next-page").click();
      await eventually(async () => assert.equal(await text(page, "page-info"), "Page 2 of 400+"));
      assert.ok((await rows(page)).length < 25, "the real second page is not full");
      assert.equal(await page.getByTestId("next-page").isDisabled(), true);
    } finally {
      await page.unroute("**/_gatehouse/api/sessions?*", capped);
    }
    await page.goto(DASHBOARD);
    await eventually(async () => assert.equal(await text(page, "total-count"), String(count())));
  }, { needs: loaded });

  await step("no script errors or CSP violations on the admin's page", async () => {
    assert.deepEqual(consoleProblems, []);
  }, { needs: loaded });

  await step("a non-admin sees the error banner, no rows, and the API says 403", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 700 } });
    context.setDefaultTimeout(STEP_MS - 2_000);
    try {
      const page = await context.newPage();
      const res = await page.request.post(`${GATEWAY}/api/auth/sign-in/email`, {
        data: { email: "user@example.com", password: PASSWORD },
        headers: { Origin: GATEWAY },
      });
      assert.equal(res.status(), 200);
      await page.goto(DASHBOARD);
      await page.getByTestId("error-banner").waitFor({ state: "visible" });
      assert.match(await text(page, "error-banner"), /not signed in as an admin/);
      assert.equal(await page.getByTestId("session-row").count(), 0);
      assert.equal(await text(page, "total-count"), "—");
      const api = await page.request.get(`${GATEWAY}/_gatehouse/api/sessions`);
      assert.equal(api.status(), 403);
      assert.deepEqual(await api.json(), { error: "forbidden" });
      // Nor may it change anything.
      const del = await page.request.delete(`${GATEWAY}/_gatehouse/api/sessions/${s.adminSessionId}`, { headers: { Origin: GATEWAY } });
      assert.equal(del.status(), 403);
      assert.equal(count(`id = ${lit(s.adminSessionId)}`), 1);
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, "not-admin.png") });
    } finally {
      await context.close();
    }
  }, { needs: ["browser starts (playwright-core, Debian Chromium)", "setup: users and sessions through the gateway"] });

  await step("cross-origin get-session: a trusted origin reads it, another is blocked", async () => {
    const context = await browser.newContext();
    context.setDefaultTimeout(STEP_MS - 2_000);
    try {
      const user = await signUp("cors@example.com", "Cors", UA.win);
      const [name, value] = user.cookie.split(/=(.*)/s);
      const host = new URL(GATEWAY).hostname;
      await context.addCookies([{ name, value, domain: host, path: "/", httpOnly: true, sameSite: "Lax" }]);
      const page = await context.newPage();
      const titled = async (url) => {
        await page.goto(url);
        await page.waitForFunction(() => document.title !== "pending");
        return page.title();
      };
      // The upstream's own origin is trusted: the preflight and the credentialed GET pass.
      const trusted = `http://${host}:${UPSTREAM_PORT}/cors-page?gateway=${encodeURIComponent(GATEWAY)}`;
      assert.equal(await titled(trusted), "ok:cors@example.com");
      // The same page from another origin (localhost) is not: the browser refuses the answer.
      const other = `http://localhost:${UPSTREAM_PORT}/cors-page?gateway=${encodeURIComponent(GATEWAY)}`;
      assert.equal(await titled(other), "blocked");
    } finally {
      await context.close();
    }
  }, { needs: ["browser starts (playwright-core, Debian Chromium)"] });

  await step("signed out: the banner, and the API says 401", async () => {
    const context = await browser.newContext();
    context.setDefaultTimeout(STEP_MS - 2_000);
    try {
      const page = await context.newPage();
      await page.goto(DASHBOARD);
      await page.getByTestId("error-banner").waitFor({ state: "visible" });
      assert.match(await text(page, "error-banner"), /not signed in as an admin/);
      assert.equal(await page.getByTestId("session-row").count(), 0);
      const api = await page.request.get(`${GATEWAY}/_gatehouse/api/sessions`);
      assert.equal(api.status(), 401);
    } finally {
      await context.close();
    }
  }, { needs: ["browser starts (playwright-core, Debian Chromium)"] });
} finally {
  if (browser) await withTimeout(browser.close(), 10_000, "closing the browser").catch(() => {});
}

printSummary();
process.exit(results.failed ? 1 : 0);
