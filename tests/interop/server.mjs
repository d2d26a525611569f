// A real Better Auth server for Gatehouse interoperability tests.
//
// Environment (see README.md):
//   DATABASE_URL        postgres://... (required)
//   BETTER_AUTH_SECRET  signing secret (required)
//   BETTER_AUTH_URL     base URL, e.g. http://127.0.0.1:PORT (default: http://127.0.0.1:<bound port>)
//   PORT                port to listen on at 127.0.0.1 (default 0 = any free port)
//   COOKIE_CACHE        unset = cookie cache off; compact | jwt | jwe = on with that strategy, maxAge 300
//   TRUSTED_ORIGINS     comma-separated origins added to trustedOrigins
//   UPDATE_AGE          session.updateAge in seconds (default one day; 0 refreshes every read)
//   MULTI_SESSION=1     add the multi-session plugin
//   COOKIE_DOMAIN       advanced.crossSubDomainCookies = { enabled: true, domain: COOKIE_DOMAIN }
//   COOKIE_ATTRIBUTES   JSON for advanced.defaultCookieAttributes
//   COOKIES             JSON for advanced.cookies (per-cookie { name?, attributes? })
//   USER_FIELDS         JSON for user.additionalFields
//   SESSION_FIELDS      JSON for session.additionalFields
//   ORGANIZATION=1      add the organization plugin
//   ACCOUNT             JSON for the account options (storeAccountCookie, storeStateStrategy)
//   RATE_LIMIT          JSON for rateLimit (e.g. {"enabled":true,"window":10,"max":3})
//   BETTER_AUTH_SECRETS read by Better Auth itself ("2:new,1:old"; BETTER_AUTH_SECRET stays the
//                       legacy secret)
//   BA_MIGRATE=1        run Better Auth's own migrator before listening
//   BA_CHECK_SCHEMA=1   compare the database with what Better Auth expects, then exit without
//                       listening: 0 = nothing to create or add, 3 = differences (printed to stderr)
//
// stdout carries exactly one line, `READY <port>`, once the server listens.
// Everything else (Better Auth's logs, errors) goes to stderr.

import http from "node:http";
import pg from "pg";
import { betterAuth } from "better-auth";
import { admin, multiSession, organization } from "better-auth/plugins";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";
import { getSchema } from "better-auth/db";

const EXIT_USAGE = 2;
const EXIT_SCHEMA_MISMATCH = 3;

function fail(message, code = 1) {
  process.stderr.write(`server.mjs: ${message}\n`);
  process.exit(code);
}

function requireEnv(name) {
  const value = process.env[name];
  if (value === undefined || value === "") fail(`${name} must be set`, EXIT_USAGE);
  return value;
}

const databaseUrl = requireEnv("DATABASE_URL");
const secret = requireEnv("BETTER_AUTH_SECRET");

const portText = process.env.PORT ?? "0";
if (!/^\d+$/.test(portText) || Number(portText) > 65535) fail(`PORT must be 0..65535, got ${JSON.stringify(portText)}`, EXIT_USAGE);
const port = Number(portText);

const cookieCacheStrategy = process.env.COOKIE_CACHE || undefined;
if (cookieCacheStrategy !== undefined && !["compact", "jwt", "jwe"].includes(cookieCacheStrategy)) {
  fail(`COOKIE_CACHE must be unset, compact, jwt or jwe; got ${JSON.stringify(cookieCacheStrategy)}`, EXIT_USAGE);
}

const extraTrustedOrigins = (process.env.TRUSTED_ORIGINS ?? "")
  .split(",")
  .map((origin) => origin.trim())
  .filter((origin) => origin !== "");

function jsonEnv(name) {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    fail(`${name} must be JSON: ${err.message}`, EXIT_USAGE);
  }
}

const updateAgeText = process.env.UPDATE_AGE ?? "86400";
if (!/^\d+$/.test(updateAgeText)) fail(`UPDATE_AGE must be whole seconds, got ${JSON.stringify(updateAgeText)}`, EXIT_USAGE);
const updateAge = Number(updateAgeText);
const multiSessionPlugin = process.env.MULTI_SESSION === "1";
const cookieDomain = process.env.COOKIE_DOMAIN || undefined;
const defaultCookieAttributes = jsonEnv("COOKIE_ATTRIBUTES");
const cookies = jsonEnv("COOKIES");
const userFields = jsonEnv("USER_FIELDS");
const sessionFields = jsonEnv("SESSION_FIELDS");
const organizationPlugin = process.env.ORGANIZATION === "1";
const account = jsonEnv("ACCOUNT");
const rateLimit = jsonEnv("RATE_LIMIT");

const migrate = process.env.BA_MIGRATE === "1";
const checkSchema = process.env.BA_CHECK_SCHEMA === "1";

function describe(value) {
  if (value instanceof Error) return value.stack ?? String(value);
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

// Better Auth logs info/debug with console.log by default; keep stdout for the READY line.
const logger = {
  level: "warn",
  log(level, message, ...args) {
    const rest = args.map((a) => " " + describe(a)).join("");
    process.stderr.write(`[better-auth ${level}] ${message}${rest}\n`);
  },
};

const pool = new pg.Pool({ connectionString: databaseUrl });
pool.on("error", (err) => process.stderr.write(`pg pool error: ${err.message}\n`));

function buildOptions(baseURL) {
  return {
    baseURL,
    secret,
    database: pool,
    logger,
    telemetry: { enabled: false },
    trustedOrigins: extraTrustedOrigins,
    emailAndPassword: { enabled: true },
    ...(userFields ? { user: { additionalFields: userFields } } : {}),
    ...(account ? { account } : {}),
    ...(rateLimit ? { rateLimit } : {}),
    session: {
      ...(sessionFields ? { additionalFields: sessionFields } : {}),
      expiresIn: 60 * 60 * 24 * 7,
      updateAge,
      cookieCache: cookieCacheStrategy
        ? { enabled: true, strategy: cookieCacheStrategy, maxAge: 300 }
        : { enabled: false },
    },
    advanced: {
      ...(cookieDomain ? { crossSubDomainCookies: { enabled: true, domain: cookieDomain } } : {}),
      ...(defaultCookieAttributes ? { defaultCookieAttributes } : {}),
      ...(cookies ? { cookies } : {}),
    },
    plugins: [
      admin(),
      ...(multiSessionPlugin ? [multiSession()] : []),
      ...(organizationPlugin ? [organization()] : []),
    ],
  };
}

// The migrator only reports missing tables and columns (and type drift, as warnings). It does not
// notice a missing single-column index or unique constraint, nor a NOT NULL where Better Auth expects
// NULL. Check those against the catalogue so that BA_CHECK_SCHEMA=1 really proves the schema.
async function checkColumnsAndIndexes(schema) {
  const problems = [];
  const { rows: columns } = await pool.query(
    `select table_name, column_name, is_nullable from information_schema.columns where table_schema = current_schema()`,
  );
  const { rows: indexes } = await pool.query(
    `select t.relname as "table", i.relname as "name", ix.indisunique as "unique",
            ix.indisvalid and ix.indpred is null and ix.indexprs is null as "plain",
            array(select a.attname from unnest(ix.indkey) with ordinality k(attnum, ord)
                  join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum order by k.ord)::text[] as "columns"
       from pg_index ix
       join pg_class t on t.oid = ix.indrelid
       join pg_class i on i.oid = ix.indexrelid
       join pg_namespace n on n.oid = t.relnamespace
      where n.nspname = current_schema()`,
  );
  for (const [table, { fields }] of Object.entries(schema)) {
    for (const [column, field] of Object.entries(fields)) {
      const col = columns.find((c) => c.table_name === table && c.column_name === column);
      if (!col) continue; // reported by the migrator
      const wantNullable = field.required === false;
      if ((col.is_nullable === "YES") !== wantNullable) {
        problems.push(`column ${table}.${column} is ${col.is_nullable === "YES" ? "NULL" : "NOT NULL"}, Better Auth expects ${wantNullable ? "NULL" : "NOT NULL"}`);
      }
      if (field.unique || field.index) {
        const unique = Boolean(field.unique);
        const found = indexes.some(
          (i) => i.table === table && i.plain && i.unique === unique && i.columns.length === 1 && i.columns[0] === column,
        );
        if (!found) problems.push(`missing ${unique ? "unique " : ""}index on ${table}(${column})`);
      }
    }
  }
  return problems;
}

async function closePool() {
  await pool.end().catch(() => {});
}

async function listen() {
  const server = http.createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

async function main() {
  // Schema work does not depend on the base URL; use a placeholder when it is not known yet.
  const schemaOptions = buildOptions(process.env.BETTER_AUTH_URL || "http://127.0.0.1");

  if (migrate) {
    const { runMigrations, toBeCreated, toBeAdded, toBeAddedIndexes } = await getMigrations(schemaOptions);
    const pending = toBeCreated.length + toBeAdded.length + toBeAddedIndexes.length;
    await runMigrations();
    process.stderr.write(
      `server.mjs: migrated (${toBeCreated.length} tables created, ${toBeAdded.length} tables altered, ${toBeAddedIndexes.length} indexes added${pending ? "" : "; nothing to do"})\n`,
    );
  }

  if (checkSchema) {
    // Collect what the migrator would change, plus its warnings (type or nullability drift).
    const warnings = [];
    const checkOptions = {
      ...schemaOptions,
      logger: {
        level: "warn",
        log(level, message) {
          if (level === "warn" || level === "error") warnings.push(`${level}: ${message}`);
          logger.log(level, message);
        },
      },
    };
    const result = await getMigrations(checkOptions, { throwOnUnsafe: false });
    const problems = [];
    for (const t of result.toBeCreated) problems.push(`create table ${t.table} (${Object.keys(t.fields).join(", ")})`);
    for (const t of result.toBeAdded) problems.push(`add to ${t.table}: ${Object.keys(t.fields).join(", ")}`);
    for (const i of result.toBeAddedIndexes) problems.push(`add index ${i.name} on ${i.table} (${i.index.columns.join(", ")})`);
    for (const p of result.schemaProblems ?? []) problems.push(`schema problem: ${p}`);
    for (const u of result.unsafeChanges ?? []) problems.push(`unsafe: ${u}`);
    for (const w of warnings) problems.push(`migrator ${w}`);
    problems.push(...(await checkColumnsAndIndexes(getSchema(schemaOptions))));
    const sqlText = problems.length ? await result.compileMigrations().catch(() => "") : "";
    await closePool();
    if (problems.length) {
      process.stderr.write(`server.mjs: schema differs from what Better Auth expects:\n`);
      for (const p of problems) process.stderr.write(`  ${p}\n`);
      if (sqlText && sqlText !== ";") process.stderr.write(`SQL Better Auth would run:\n${sqlText}\n`);
      process.exit(EXIT_SCHEMA_MISMATCH);
    }
    process.stderr.write("server.mjs: schema matches what Better Auth expects\n");
    process.exit(0);
  }

  const server = await listen();
  const boundPort = server.address().port;
  const options = buildOptions(process.env.BETTER_AUTH_URL || `http://127.0.0.1:${boundPort}`);

  const auth = betterAuth(options);
  await auth.$context; // surface initialisation errors before announcing READY
  const authHandler = toNodeHandler(auth);

  server.on("request", (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/health" && (req.method === "GET" || req.method === "HEAD")) {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": "2" });
      res.end(req.method === "HEAD" ? undefined : "ok");
      return;
    }
    Promise.resolve(authHandler(req, res)).catch((err) => {
      process.stderr.write(`handler error: ${err?.stack ?? err}\n`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error");
    });
  });

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`server.mjs: ${signal}, shutting down\n`);
    server.close();
    server.closeAllConnections();
    await closePool();
    process.exit(0);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  process.stdout.write(`READY ${boundPort}\n`);
}

main().catch(async (err) => {
  process.stderr.write(`server.mjs: ${err?.stack ?? err}\n`);
  await closePool();
  process.exit(1);
});
