#!/usr/bin/env bash
# Sessions admin search on PostgreSQL with 1,000,000 sessions: how long does a page take?
#
#   1. creates a fresh database, runs `gatehouse migrate`, fills it with USERS users and
#      SESSIONS sessions (generate_series), VACUUM ANALYZE;
#   2. starts `gatehouse serve` on free ports and times GET /_gatehouse/api/sessions calls with
#      curl (median of REPS after one warm-up), saving EXPLAIN (ANALYZE, BUFFERS) plans of the
#      SQL Gatehouse sends (reproduced from src/store/admin.rs; checked against pg_stat_activity);
#   3. repeats the HTTP timings with fixes that need no code change: pg_trgm GIN indexes, then
#      also btree indexes on the sort columns;
#   4. times rewritten SQL (a prototype of a code change) with psql, to measure what a change in
#      src/store/admin.rs would bring.
# The database (and with it every index and extension created here) is dropped on exit.
#
# Usage: bash benches/admin/search.sh
# Env:   PG_URL=postgres://postgres@127.0.0.1:5432  server URL (trust auth), without a database
#        SESSIONS=1000000 USERS=10000 REPS=5  TIME_LIMIT=3600 (seconds, whole run)
#        BIN=path  gatehouse binary (default: target/release if up to date, else target/debug,
#        built with `cargo build` when stale; cargo waits for the lock if another build runs)
#        PHASES="stock trgm sort proto"  which steps to run (subset allowed, in this order)
#        KEEP_DB=1  keep the database (prints its name) instead of dropping it
# Output: stdout and target/admin-bench/<timestamp>/ (summary.md, timings.tsv, plans/, logs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TIME_LIMIT=${TIME_LIMIT:-3600}

# Bound the whole run: re-run this script under timeout(1); the EXIT trap still cleans up.
if [[ -z ${ADMIN_BENCH_INNER:-} ]]; then
    ADMIN_BENCH_INNER=1 exec timeout --signal=TERM --kill-after=60 "$TIME_LIMIT" bash "$0" "$@"
fi

PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
SESSIONS=${SESSIONS:-1000000}
USERS=${USERS:-10000}
REPS=${REPS:-5}
PHASES=${PHASES:-stock trgm sort proto}
DB=gatehouse_adminbench_$$
DB_URL=$PG_URL/$DB
TOKEN=adminbench-token-$$-0123456789abcdef
SECRET=adminbench-secret-$$-0123456789abcdef

die() { echo "search.sh: $*" >&2; exit 1; }
for c in psql curl timeout awk python3; do command -v "$c" >/dev/null || die "$c is not installed"; done
[[ $SESSIONS =~ ^[1-9][0-9]*$ && $USERS =~ ^[1-9][0-9]*$ && $REPS =~ ^[1-9][0-9]*$ ]] \
    || die "bad SESSIONS, USERS or REPS"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/target/admin-bench/$STAMP
mkdir -p "$OUT/plans"
TMP=$(mktemp -d -t gatehouse-adminbench.XXXXXX)
GW_PID=
DB_CREATED=
PORT=

psql_admin() { psql "$PG_URL/postgres" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_db() { psql "$DB_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }

stop_gateway() {
    if [[ -n $GW_PID ]] && kill -0 "$GW_PID" 2>/dev/null; then
        kill -INT "$GW_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$GW_PID" 2>/dev/null || true
        wait "$GW_PID" 2>/dev/null || true
    fi
    GW_PID=
    if [[ -n $PORT ]]; then rm -f "/tmp/gatehouse-$PORT.pid" "/tmp/gatehouse-$PORT.sock"; fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_gateway
    if [[ -n $DB_CREATED ]]; then
        if [[ -n ${KEEP_DB:-} ]]; then
            echo "kept database $DB_URL (drop it with: DROP DATABASE $DB)" >&2
        else
            psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 \
                || echo "search.sh: could not drop database $DB" >&2
        fi
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "$*" | tee -a "$OUT/summary.md"; }
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
load_note() { # load average, and the busiest processes over the last second (top's 2nd sample)
    local top
    top=$(top -b -n 2 -d 1 -w 200 2>/dev/null | awk '/^ *PID/ {n++; next} n == 2 && NF >= 12 && c < 4 {printf "%s %s%%, ", $12, $9; c++}')
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg); busiest over 1 s: ${top%, }"
}

# --- the binary ---------------------------------------------------------------------------------
fresh() { # binary newer than every source file?
    [[ -x $1 ]] || return 1
    [[ -z $(find "$ROOT/src" "$ROOT/migrations" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" -newer "$1" -print -quit) ]]
}
if [[ -z ${BIN:-} ]]; then
    if fresh "$ROOT/target/release/gatehouse"; then
        BIN=$ROOT/target/release/gatehouse
    elif fresh "$ROOT/target/debug/gatehouse"; then
        BIN=$ROOT/target/debug/gatehouse
    else
        echo "building: cargo build (waits for the cargo lock if another build runs)" >&2
        (cd "$ROOT" && cargo build --quiet --bin gatehouse) || die "build failed"
        BIN=$ROOT/target/debug/gatehouse
    fi
fi
[[ -x $BIN ]] || die "no binary at $BIN"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- 1. database ----------------------------------------------------------------------------------
psql_admin -c "SELECT 1" >/dev/null || die "PostgreSQL does not answer at $PG_URL"
psql_admin -c "CREATE DATABASE $DB" >/dev/null
DB_CREATED=1
BETTER_AUTH_SECRET=$SECRET "$BIN" migrate --database-url "$DB_URL" >"$OUT/migrate.log" 2>&1 \
    || { cat "$OUT/migrate.log" >&2; die "gatehouse migrate failed"; }

{
    echo "# Sessions admin search, $SESSIONS sessions / $USERS users, PostgreSQL"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
    echo "- server: $(psql_db -Atc 'SHOW server_version'); shared_buffers $(psql_db -Atc 'SHOW shared_buffers'), work_mem $(psql_db -Atc 'SHOW work_mem'), max_parallel_workers_per_gather $(psql_db -Atc 'SHOW max_parallel_workers_per_gather'), lc_collate $(psql_db -Atc 'SHOW lc_collate')"
    echo "- binary: ${BIN#"$ROOT"/}; medians of $REPS after 1 warm-up, in ms"
    echo
} | tee "$OUT/summary.md"

echo "seeding $USERS users and $SESSIONS sessions ..." >&2
T0=$(date +%s)
psql_db -v users="$USERS" -v sessions="$SESSIONS" >/dev/null <<'SQL'
SELECT setseed(0.4242);
-- Users: realistic, unique e-mail addresses (first.last<n>@domain), ids like Better Auth's.
INSERT INTO "user" ("id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "role", "banned")
SELECT md5('user-' || g), initcap(f) || ' ' || initcap(l), f || '.' || l || (g % 97) || '@' || d,
       g % 5 <> 0, NULL, now() - (g % 700) * interval '1 day', now() - (g % 30) * interval '1 day',
       CASE WHEN g % 500 = 0 THEN 'admin' ELSE 'user' END, false
FROM (
  SELECT g,
    (ARRAY['olivia','liam','emma','noah','ava','elijah','sophia','james','isabella','lucas','mia','mateo','amelia','levi','harper','ethan','evelyn','leo','luna','jack','aria','henry','ella','oliver','chloe','kai','nora','omar','yuki','priya','chen','fatima','diego','anya','lars','ines','tomas','zara','ravi','mei'])[1 + (g * 7) % 40] AS f,
    (ARRAY['smith','johnson','garcia','miller','davis','martinez','lopez','wilson','anderson','thomas','taylor','moore','jackson','martin','lee','perez','thompson','white','harris','clark','lewis','walker','young','allen','king','wright','scott','nguyen','hill','green','adams','baker','nakamura','kowalski','schmidt','rossi','dubois','silva','kim','patel','novak','olsen','haddad'])[1 + (g * 13) % 43] AS l,
    (ARRAY['gmail.com','outlook.com','yahoo.com','proton.me','icloud.com','acme.io','example.org','fastmail.com'])[1 + g % 8] AS d
  FROM generate_series(1, :users) g
) x;
-- Sessions: 32-hex ids and tokens, random users, 4,000 distinct IPv4 addresses, expiresAt
-- uniform from 9 days ago to 21 days ahead (so ~70% active), created 7 days before expiry.
INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId", "impersonatedBy")
SELECT md5('session-' || g), e, md5('token-' || g), e - interval '7 days',
       e - interval '7 days' + random() * interval '6 days',
       (11 + (k / 256) * 13) || '.' || (k % 256) || '.' || ((k * 37) % 256) || '.' || (1 + (k * 101) % 254),
       (ARRAY['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
              'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
              'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
              'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
              'curl/8.5.0'])[1 + g % 5],
       md5('user-' || u), NULL
FROM (
  SELECT g, now() - interval '9 days' + random() * interval '30 days' AS e,
         1 + floor(random() * :users)::int AS u, floor(random() * 4000)::int AS k
  FROM generate_series(1, :sessions) g
) x;
SQL
# VACUUM too: a long-lived table has a visibility map (index-only scans), a fresh one not.
psql_db -c 'VACUUM (ANALYZE) "user"' -c 'VACUUM (ANALYZE) "session"'
IFS='|' read -r N_SESS N_ACTIVE N_IPS SESS_SIZE < <(psql_db -At -c \
    "SELECT count(*), count(*) FILTER (WHERE \"expiresAt\" > now()), count(DISTINCT \"ipAddress\"),
            pg_size_pretty(pg_total_relation_size('session')) FROM \"session\"")
log "- data: $N_SESS sessions ($N_ACTIVE active, $N_IPS distinct IPs, session table + indexes $SESS_SIZE), seeded in $(( $(date +%s) - T0 )) s"

# Search terms taken from the data: 8 characters from the middle of a real session id, a
# fragment of its user's e-mail address, its IP, a term that matches nothing, and a broad
# 3-letter term (a common surname fragment).
MID=$(( (SESSIONS + 1) / 2 ))
IFS='|' read -r T_ID T_EMAIL T_IP < <(psql_db -At -c \
    "SELECT substr(s.\"id\", 13, 8), substr(split_part(u.\"email\", '@', 1), 2), s.\"ipAddress\"
     FROM \"session\" s JOIN \"user\" u ON u.\"id\" = s.\"userId\" WHERE s.\"id\" = md5('session-$MID')")
T_NONE=zqxj-no-such-thing
T_BROAD=son
log "- search terms: id \`$T_ID\`, e-mail \`$T_EMAIL\`, IP \`$T_IP\`, no match \`$T_NONE\`, broad \`$T_BROAD\`"
log

# --- the SQL Gatehouse sends (src/store/admin.rs + dialect.rs, PostgreSQL, default schema) ------
ms() { echo "CAST(EXTRACT(EPOCH FROM $1) * 1000 AS BIGINT)"; }
REC_SELECT="s.\"id\", s.\"token\", s.\"userId\", $(ms 's."expiresAt"'), $(ms 's."createdAt"'), $(ms 's."updatedAt"'), s.\"ipAddress\", s.\"userAgent\", s.\"impersonatedBy\", u.\"id\", u.\"name\", u.\"email\", u.\"emailVerified\", u.\"image\", $(ms 'u."createdAt"'), $(ms 'u."updatedAt"'), u.\"role\", u.\"banned\", u.\"banReason\", $(ms 'u."banExpires"')"
FROM_J='FROM "session" s JOIN "user" u ON u."id" = s."userId"'
COND="(s.\"id\" LIKE \$1 ESCAPE '!' OR s.\"userId\" LIKE \$2 ESCAPE '!' OR u.\"email\" LIKE \$3 ESCAPE '!' OR s.\"ipAddress\" LIKE \$4 ESCAPE '!')"
ORDER='ORDER BY s."expiresAt" DESC, s."id" ASC'
CUR_COUNT="SELECT COUNT(*) $FROM_J WHERE $COND"
CUR_PAGE="SELECT $REC_SELECT $FROM_J WHERE $COND $ORDER LIMIT \$5 OFFSET \$6"
CUR_COUNT_ALL="SELECT COUNT(*) $FROM_J"
CUR_PAGE_ALL="SELECT $REC_SELECT $FROM_J $ORDER LIMIT \$1 OFFSET \$2"
ACTIVE_EXPR=$(ms 's."expiresAt"')
CUR_COUNT_ACTIVE="SELECT COUNT(*) $FROM_J WHERE $ACTIVE_EXPR > \$1"

like() { # %term% with ! % _ escaped by !, as like_pattern() does
    local t=${1//!/!!}; t=${t//%/!%}; t=${t//_/!_}; echo "%$t%"
}
args4() { local p; p=$(like "$1"); p=${p//\'/\'\'}; echo "'$p','$p','$p','$p'"; }

# explain NAME "PREPARE ..." "EXECUTE ..." [settings]: EXPLAIN (ANALYZE, BUFFERS) of the
# prepared statement with its parameters (a custom plan, as sqlx's first executions get).
explain() {
    local name=$1 prep=$2 exec=$3 settings=(-c "SET statement_timeout = '60s'")
    [[ -n ${4:-} ]] && settings+=(-c "$4")
    { echo "-- $name"; echo "$prep"; echo "-- $exec"; echo; } >"$OUT/plans/$name.txt"
    psql_db "${settings[@]}" -c "$prep" \
        -c "EXPLAIN (ANALYZE, BUFFERS) $exec" >>"$OUT/plans/$name.txt" 2>&1 \
        || echo "(explain failed)" >>"$OUT/plans/$name.txt"
}
# Key lines of a plan, for the summary.
plan_keys() {
    grep -E 'Seq Scan|Index Scan|Index Only Scan|Bitmap (Index|Heap) Scan|Execution Time|Sort Method' \
        "$OUT/plans/$1.txt" | sed -E 's/ +\(cost=[^)]*\)//; s/actual time=[^ ]* //; s/^ +//; s/->  //' | sort | uniq -c \
        | awk '{$1=$1; print}' | sed 's/^/    /' || true
}

# --- HTTP timings ---------------------------------------------------------------------------------
printf 'phase\tcall\tmedian_ms\tmin_ms\tmax_ms\ttotal\n' >"$OUT/timings.tsv"

start_gateway() {
    PORT=$(free_port)
    local mport; mport=$(free_port)
    cat >"$TMP/gatehouse.toml" <<'TOML'
# Benchmark: no background writes or counts while timing.
[sessions]
cleanup_interval = 0
[metrics]
gauge_interval = 86400
TOML
    BETTER_AUTH_SECRET=$SECRET GATEHOUSE_DATABASE_URL=$DB_URL GATEHOUSE_LISTEN=127.0.0.1:$PORT \
        GATEHOUSE_METRICS_LISTEN=127.0.0.1:$mport GATEHOUSE_UPSTREAM=http://127.0.0.1:9 \
        GATEHOUSE_ADMIN_TOKEN=$TOKEN RUST_LOG=warn \
        "$BIN" serve --config "$TMP/gatehouse.toml" >>"$OUT/gateway.log" 2>&1 &
    GW_PID=$!
    for _ in $(seq 1 300); do
        kill -0 "$GW_PID" 2>/dev/null || { tail -20 "$OUT/gateway.log" >&2; die "gateway exited"; }
        curl -fs -o /dev/null "http://127.0.0.1:$mport/readyz" && return 0
        sleep 0.1
    done
    die "gateway not ready after 30 s"
}

# time_call PHASE LABEL QUERY: one warm-up, then REPS timed GETs; median/min/max in ms.
declare -A MED
time_call() {
    local phase=$1 label=$2 query=$3 url times=() code t total
    url="http://127.0.0.1:$PORT/_gatehouse/api/sessions${query:+?$query}"
    for i in $(seq 0 "$REPS"); do
        read -r code t < <(curl -s -o "$TMP/body.json" -w '%{http_code} %{time_total}\n' \
            --max-time 60 -H "Authorization: Bearer $TOKEN" "$url")
        [[ $code == 200 ]] || die "$label: HTTP $code: $(head -c 300 "$TMP/body.json")"
        (( i > 0 )) && times+=("$t")
    done
    total=$(grep -o '"total":[0-9]*' "$TMP/body.json" | cut -d: -f2)
    read -r med min max < <(printf '%s\n' "${times[@]}" | sort -g \
        | awk '{a[NR]=$1*1000} END {printf "%.0f %.0f %.0f\n", a[int((NR+1)/2)], a[1], a[NR]}')
    MED[$phase/$label]=$med
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$label" "$med" "$min" "$max" "$total" >>"$OUT/timings.tsv"
    printf '  %-8s %-34s median %6s ms  (min %s, max %s)  total=%s\n' "$phase" "$label" "$med" "$min" "$max" "$total" >&2
}

enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
CALLS=(
    "no search, page 1|"
    "no search, page 100|page=100"
    "status=active|status=active"
    "search: session id fragment|search=$(enc "$T_ID")"
    "search: e-mail fragment|search=$(enc "$T_EMAIL")"
    "search: IP address|search=$(enc "$T_IP")"
    "search: no match|search=$(enc "$T_NONE")"
    "search: broad (3 letters)|search=$(enc "$T_BROAD")"
    "sort=createdAt asc|sort=createdAt&order=asc"
)

run_http() {
    local phase=$1
    start_gateway
    echo "$phase: $(load_note)" | tee -a "$OUT/load.txt" >&2
    # Catch the SQL the gateway really sends, once, to check the reproduction used for EXPLAIN.
    if [[ $phase == stock ]]; then
        ( for _ in $(seq 1 400); do
            psql_db -At -c "SELECT query FROM pg_stat_activity WHERE datname = current_database()
                AND pid <> pg_backend_pid() AND query LIKE '%ESCAPE%'" 2>/dev/null || true
            sleep 0.02
          done ) >"$TMP/live.raw" &
        local watcher=$! line seen_count= seen_page=
        curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" \
            "http://127.0.0.1:$PORT/_gatehouse/api/sessions?search=$(enc "$T_EMAIL")"
        kill "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true
        sort -u "$TMP/live.raw" >"$OUT/plans/live-sql.txt"
        # pg_stat_activity keeps track_activity_query_size bytes (1024 by default): compare prefixes.
        while IFS= read -r line; do
            [[ -n $line ]] || continue
            [[ $CUR_COUNT == "$line"* ]] && seen_count=1
            [[ $line == SELECT\ s.* && $CUR_PAGE == "$line"* ]] && seen_page=1
        done <"$OUT/plans/live-sql.txt"
        if [[ -n $seen_count && -n $seen_page ]]; then
            log "- the SQL reproduced for EXPLAIN matches what the gateway sent (pg_stat_activity)"
        else
            log "- WARNING: the gateway's SQL (plans/live-sql.txt) differs from the reproduction used for EXPLAIN"
        fi
    fi
    for c in "${CALLS[@]}"; do time_call "$phase" "${c%%|*}" "${c#*|}"; done
    stop_gateway
    echo "$phase: $(load_note) (after)" | tee -a "$OUT/load.txt" >&2
}

explain_current() {
    local phase=$1 a; a=$(args4 "$T_EMAIL")
    explain "$phase-search-count" "PREPARE q(text,text,text,text) AS $CUR_COUNT" "EXECUTE q($a)"
    explain "$phase-search-page" "PREPARE q(text,text,text,text,bigint,bigint) AS $CUR_PAGE" "EXECUTE q($a, 25, 0)"
    explain "$phase-nosearch-count" "PREPARE q AS $CUR_COUNT_ALL" "EXECUTE q"
    explain "$phase-nosearch-page" "PREPARE q(bigint,bigint) AS $CUR_PAGE_ALL" "EXECUTE q(25, 0)"
}

TRGM_INDEXES=(
    'CREATE INDEX adminbench_session_id_trgm ON "session" USING gin ("id" gin_trgm_ops)'
    'CREATE INDEX adminbench_session_userid_trgm ON "session" USING gin ("userId" gin_trgm_ops)'
    'CREATE INDEX adminbench_session_ip_trgm ON "session" USING gin ("ipAddress" gin_trgm_ops)'
    'CREATE INDEX adminbench_user_email_trgm ON "user" USING gin ("email" gin_trgm_ops)'
    'CREATE INDEX adminbench_user_id_trgm ON "user" USING gin ("id" gin_trgm_ops)'
)
SORT_INDEXES=(
    'CREATE INDEX adminbench_session_expires ON "session" ("expiresAt")'
    'CREATE INDEX adminbench_session_created ON "session" ("createdAt")'
    'CREATE INDEX adminbench_session_updated ON "session" ("updatedAt")'
)
index_sizes() {
    psql_db -At -F ' ' -c "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c
        WHERE c.relname LIKE 'adminbench_%' ORDER BY 1" | sed 's/^/  - /'
}

if has_phase stock; then
    echo "phase stock: schema as gatehouse migrate creates it" >&2
    run_http stock
    explain_current stock
fi

if has_phase trgm || has_phase sort || has_phase proto; then
    avail=$(psql_db -At -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")
    [[ $avail == 1 ]] || die "pg_trgm is not available on this server (postgresql-contrib)"
    T0=$(date +%s)
    psql_db -c "SET maintenance_work_mem = '256MB'" -c 'CREATE EXTENSION IF NOT EXISTS pg_trgm' \
        "${TRGM_INDEXES[@]/#/-c}" -c 'ANALYZE "session"' -c 'ANALYZE "user"' >/dev/null
    log "- pg_trgm GIN indexes built in $(( $(date +%s) - T0 )) s:"
    index_sizes | tee -a "$OUT/summary.md"
fi
if has_phase trgm; then
    echo "phase trgm: + pg_trgm GIN indexes" >&2
    run_http trgm
    explain_current trgm
fi
if has_phase sort || has_phase proto; then
    T0=$(date +%s)
    psql_db "${SORT_INDEXES[@]/#/-c}" -c 'ANALYZE "session"' >/dev/null
    log "- btree sort indexes (expiresAt, createdAt, updatedAt) built in $(( $(date +%s) - T0 )) s"
fi
if has_phase sort; then
    echo "phase sort: + btree indexes on the sort columns" >&2
    run_http sort
    explain_current sort
fi
log

# The HTTP table, before the prototype section.
if has_phase stock || has_phase trgm || has_phase sort; then
    {
        echo "## HTTP: GET /_gatehouse/api/sessions (count + page), median ms"
        echo
        header="| call |"; rule="|---|"
        for p in stock trgm sort; do has_phase "$p" && { header+=" $p |"; rule+="---|"; }; done
        echo "$header"; echo "$rule"
        for c in "${CALLS[@]}"; do
            l=${c%%|*}; row="| $l |"
            for p in stock trgm sort; do has_phase "$p" && row+=" ${MED[$p/$l]:-} |"; done
            echo "$row"
        done
        echo
        echo "stock: schema of gatehouse migrate; trgm: + pg_trgm GIN on session.id, session.userId,"
        echo "session.ipAddress, user.email, user.id; sort: + btree on session.expiresAt, createdAt, updatedAt."
        echo
    } | tee -a "$OUT/summary.md"
fi

# --- 4. prototype: rewritten SQL, timed with psql ----------------------------------------------------
# The search split by table so that each branch can use an index: session-side arms (id, IP)
# and user-side arms (user id, e-mail), the second excluding rows the first matched, so the
# branches are disjoint and add up without a DISTINCT. Same four binds as today.
B1="(s.\"id\" LIKE \$1 ESCAPE '!' OR s.\"ipAddress\" LIKE \$4 ESCAPE '!')"
N1="NOT (s.\"id\" LIKE \$1 ESCAPE '!' OR COALESCE(s.\"ipAddress\" LIKE \$4 ESCAPE '!', false))"
B2="(u.\"id\" LIKE \$2 ESCAPE '!' OR u.\"email\" LIKE \$3 ESCAPE '!')"
PROTO_COUNT="SELECT (SELECT COUNT(*) $FROM_J WHERE $B1) + (SELECT COUNT(*) $FROM_J WHERE $B2 AND $N1)"
PROTO_COUNT_CAP="SELECT COUNT(*) FROM (SELECT 1 $FROM_J WHERE $B1 UNION ALL SELECT 1 $FROM_J WHERE $B2 AND $N1 LIMIT 10001) m"
# Columns aliased so the outer ORDER BY can name them.
REC_ALIASED=${REC_SELECT/u.\"id\"/u.\"id\" AS user_pk}
PROTO_PAGE="SELECT * FROM ((SELECT $REC_ALIASED, s.\"expiresAt\" AS sort_key $FROM_J WHERE $B1 $ORDER LIMIT \$5 + \$6)
 UNION ALL (SELECT $REC_ALIASED, s.\"expiresAt\" AS sort_key $FROM_J WHERE $B2 AND $N1 $ORDER LIMIT \$5 + \$6)) m
 ORDER BY sort_key DESC, \"id\" ASC LIMIT \$5 OFFSET \$6"
ACTIVE_SARG='s."expiresAt" > (TIMESTAMPTZ '"'"'epoch'"'"' + CAST($1 AS BIGINT) * INTERVAL '"'"'1 millisecond'"'"')'

# psql_time LABEL MODE "PREPARE ..." "EXECUTE ...": median of REPS after a warm-up, in ms, with
# plan_cache_mode MODE (force_custom_plan: planned with the values, as an unnamed statement or
# sqlx's first five executions; force_generic_plan: what a cached statement may switch to).
# auto: PostgreSQL's default for a prepared statement kept by the client (sqlx caches them):
# five custom plans, then possibly the generic one; timed over executions 6 to 5 + REPS.
# A statement over 5 s is cancelled and reported as ">5000".
psql_time() {
    local label=$1 mode=$2 prep=$3 exec=$4 f=$TMP/t.sql out warm=1
    [[ $mode == auto ]] && warm=5
    {
        echo "SET statement_timeout = '5s';"; echo "SET plan_cache_mode = $mode;"
        echo "$prep;"; echo '\o /dev/null'; echo '\timing on'
        for _ in $(seq 1 $(( warm + REPS ))); do echo "$exec;"; done
    } >"$f"
    out=$(psql "$DB_URL" -X -q -f "$f" 2>&1 || true)
    if grep -q 'canceling statement due to statement timeout' <<<"$out"; then
        echo ">5000"
    else
        grep '^Time:' <<<"$out" | tail -n "$REPS" | awk '{print $2}' | sort -g \
            | awk '{a[NR]=$1} END {printf "%.0f\n", a[int((NR+1)/2)]}'
    fi
}

if has_phase proto; then
    echo "phase proto: rewritten SQL via psql (all indexes above in place)" >&2
    echo "proto: $(load_note)" | tee -a "$OUT/load.txt" >&2
    P4='PREPARE q(text,text,text,text)'
    P6='PREPARE q(text,text,text,text,bigint,bigint)'
    {
        echo "## Prototype SQL (psql, server-side only, no HTTP), all indexes above"
        echo
        echo "Custom plans (planned with the values) unless noted; \"today\" is the SQL Gatehouse sends now."
        echo
        echo "| term | today: count + page 1 | split: exact count | split: count capped at 10,001 | split: page 1 | split: page 100 | split, generic plan: capped count + page 1 | split, auto plan cache (runs 6+): capped count + page 1 |"
        echo "|---|---|---|---|---|---|---|---|"
    } | tee -a "$OUT/summary.md" >&2
    for pair in "id|$T_ID" "e-mail|$T_EMAIL" "IP|$T_IP" "no match|$T_NONE" "broad 3 letters|$T_BROAD" "2 letters|ab"; do
        label=${pair%%|*}; term=${pair#*|}; a=$(args4 "$term")
        cc=$(psql_time "$label" force_custom_plan "$P4 AS $CUR_COUNT" "EXECUTE q($a)")
        cp=$(psql_time "$label" force_custom_plan "$P6 AS $CUR_PAGE" "EXECUTE q($a, 25, 0)")
        pc=$(psql_time "$label" force_custom_plan "$P4 AS $PROTO_COUNT" "EXECUTE q($a)")
        pcc=$(psql_time "$label" force_custom_plan "$P4 AS $PROTO_COUNT_CAP" "EXECUTE q($a)")
        pp=$(psql_time "$label" force_custom_plan "$P6 AS $PROTO_PAGE" "EXECUTE q($a, 25, 0)")
        pp100=$(psql_time "$label" force_custom_plan "$P6 AS $PROTO_PAGE" "EXECUTE q($a, 25, 2475)")
        gcc=$(psql_time "$label" force_generic_plan "$P4 AS $PROTO_COUNT_CAP" "EXECUTE q($a)")
        gp=$(psql_time "$label" force_generic_plan "$P6 AS $PROTO_PAGE" "EXECUTE q($a, 25, 0)")
        acc=$(psql_time "$label" auto "$P4 AS $PROTO_COUNT_CAP" "EXECUTE q($a)")
        ap=$(psql_time "$label" auto "$P6 AS $PROTO_PAGE" "EXECUTE q($a, 25, 0)")
        printf '| %s `%s` | %s + %s | %s | %s | %s | %s | %s + %s | %s + %s |\n' "$label" "$term" "$cc" "$cp" "$pc" "$pcc" "$pp" "$pp100" "$gcc" "$gp" "$acc" "$ap" \
            | tee -a "$OUT/summary.md" >&2
    done
    a=$(args4 "$T_EMAIL")
    explain proto-search-count "$P4 AS $PROTO_COUNT" "EXECUTE q($a)"
    explain proto-search-page "$P6 AS $PROTO_PAGE" "EXECUTE q($a, 25, 0)"
    a=$(args4 "$T_IP")
    explain proto-search-page-ip "$P6 AS $PROTO_PAGE" "EXECUTE q($a, 25, 0)"
    a=$(args4 "$T_BROAD")
    explain proto-search-page-broad "$P6 AS $PROTO_PAGE" "EXECUTE q($a, 25, 0)"
    explain proto-search-page-generic "$P6 AS $PROTO_PAGE" "EXECUTE q($(args4 "$T_EMAIL"), 25, 0)" "SET plan_cache_mode = force_generic_plan"

    NOW_MS=$(( $(date +%s) * 1000 ))
    {
        echo
        echo "| no search | ms |"
        echo "|---|---|"
        echo "| today: count (join) | $(psql_time c force_custom_plan "PREPARE q AS $CUR_COUNT_ALL" "EXECUTE q") |"
        echo "| count, session table only | $(psql_time c force_custom_plan 'PREPARE q AS SELECT COUNT(*) FROM "session" s' "EXECUTE q") |"
        echo "| count capped at 10,001 (join) | $(psql_time c force_custom_plan "PREPARE q AS SELECT COUNT(*) FROM (SELECT 1 $FROM_J LIMIT 10001) m" "EXECUTE q") |"
        echo "| today: page 1 (with sort index) | $(psql_time c force_custom_plan "PREPARE q(bigint,bigint) AS $CUR_PAGE_ALL" "EXECUTE q(25, 0)") |"
        echo "| today: page 100 (with sort index) | $(psql_time c force_custom_plan "PREPARE q(bigint,bigint) AS $CUR_PAGE_ALL" "EXECUTE q(25, 2475)") |"
        echo "| today: active count (epoch-ms expression) | $(psql_time c force_custom_plan "PREPARE q(bigint) AS $CUR_COUNT_ACTIVE" "EXECUTE q($NOW_MS)") |"
        echo "| active count, sargable \`\"expiresAt\" > \$1\` (session only) | $(psql_time c force_custom_plan "PREPARE q(bigint) AS SELECT COUNT(*) FROM \"session\" s WHERE $ACTIVE_SARG" "EXECUTE q($NOW_MS)") |"
        echo "| active count capped at 10,001 | $(psql_time c force_custom_plan "PREPARE q(bigint) AS SELECT COUNT(*) FROM (SELECT 1 $FROM_J WHERE $ACTIVE_SARG LIMIT 10001) m" "EXECUTE q($NOW_MS)") |"
        echo
    } | tee -a "$OUT/summary.md" >&2
    echo "proto: $(load_note) (after)" | tee -a "$OUT/load.txt" >&2
fi

# --- summary ----------------------------------------------------------------------------------------
{
    echo "## Plan key lines (counts of nodes)"
    for f in "$OUT"/plans/*.txt; do
        n=$(basename "$f" .txt); [[ $n == live-sql ]] && continue
        echo; echo "- $n"; plan_keys "$n"
    done
    echo
    echo "## Load"
    echo; sed 's/^/- /' "$OUT/load.txt"
} | tee -a "$OUT/summary.md"
echo >&2
echo "results: $OUT" >&2
