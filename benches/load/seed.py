#!/usr/bin/env python3
"""Seeds Better Auth sessions for benches/load/run.sh's cold-token runs (standard library only).

    seed.py sqlite PATH SECRET COUNT PREFIX COOKIES_OUT
    seed.py postgres URL SECRET COUNT PREFIX COOKIES_OUT

Adds COUNT sessions (valid for a week, one user for every 100 sessions) to a database that
`gatehouse migrate` created, with rows as Better Auth writes them: 32-character ids and tokens,
ISO dates on SQLite, timestamptz on PostgreSQL (written with psql's COPY). Tokens are PREFIX
followed by digits, so runs with different prefixes never collide. Writes one `Cookie` header
value per session to COOKIES_OUT, signed as Better Auth signs them
(`token.base64(HMAC-SHA256(secret, token))`, then encodeURIComponent).
"""

import base64
import datetime
import hashlib
import hmac
import sqlite3
import subprocess
import sys
import urllib.parse

COOKIE = "better-auth.session_token"
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SESSIONS_PER_USER = 100


def ident(prefix, kind, i):
    """A 32-character id: PREFIX, a kind letter, zero-padded digits."""
    head = f"{prefix}{kind}"
    return f"{head}{i:0{32 - len(head)}d}"


def rows(prefix, count):
    now = datetime.datetime.now(datetime.timezone.utc)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    created, expires = iso(now), iso(now + datetime.timedelta(days=7))
    users = [
        (ident(prefix, "u", u), f"Bench User {u}", f"bench{u}.{prefix}@example.com", created)
        for u in range((count + SESSIONS_PER_USER - 1) // SESSIONS_PER_USER)
    ]
    sessions = [
        (
            ident(prefix, "s", i),
            expires,
            ident(prefix, "t", i),
            created,
            f"203.0.113.{i % 250 + 1}",
            users[i // SESSIONS_PER_USER][0],
        )
        for i in range(count)
    ]
    return users, sessions, created


def sign(secret, token):
    mac = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    signed = f"{token}.{base64.b64encode(mac).decode()}"
    return f"{COOKIE}={urllib.parse.quote(signed, safe='')}"


def seed_sqlite(path, users, sessions, created):
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            'insert into "user" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt", "role") '
            "values (?, ?, ?, 1, ?, ?, 'user')",
            [(i, n, e, c, c) for i, n, e, c in users],
        )
        db.executemany(
            'insert into "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", '
            '"ipAddress", "userAgent", "userId") values (?, ?, ?, ?, ?, ?, ?, ?)',
            [(s, x, t, created, created, ip, USER_AGENT, u) for s, x, t, _, ip, u in sessions],
        )
    db.close()


def copy(url, table, columns, lines):
    quoted = ", ".join(f'"{c}"' for c in columns)
    sql = f'\\copy "{table}" ({quoted}) from stdin'
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
        input="".join(lines),
        text=True,
        check=True,
    )


def seed_postgres(url, users, sessions, created):
    copy(
        url,
        "user",
        ["id", "name", "email", "emailVerified", "createdAt", "updatedAt", "role"],
        (f"{i}\t{n}\t{e}\tt\t{c}\t{c}\tuser\n" for i, n, e, c in users),
    )
    copy(
        url,
        "session",
        ["id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId"],
        (
            f"{s}\t{x}\t{t}\t{created}\t{created}\t{ip}\t{USER_AGENT}\t{u}\n"
            for s, x, t, _, ip, u in sessions
        ),
    )


def main(args):
    if len(args) != 6 or args[0] not in ("sqlite", "postgres"):
        sys.exit(__doc__)
    kind, target, secret, count, prefix, cookies_out = args
    users, sessions, created = rows(prefix, int(count))
    if kind == "sqlite":
        seed_sqlite(target, users, sessions, created)
    else:
        seed_postgres(target, users, sessions, created)
    with open(cookies_out, "w") as out:
        out.writelines(sign(secret, token) + "\n" for _, _, token, _, _, _ in sessions)


if __name__ == "__main__":
    main(sys.argv[1:])
