#!/usr/bin/env bash
# Sessions admin search on PostgreSQL with 1,000,000 sessions: how long does a page take?
#
#   1. creates a fresh database, runs `gatehouse migrate`, fills it with USERS users and
#      SESSIONS sessions (generate_series), VACUUM ANALYZE;
#   2. phase "stock": starts `gatehouse serve` on free ports and times GET
#      /_gatehouse/api/sessions calls with curl (median of REPS after one warm-up) on the schema
#      `gatehouse migrate` creates;
#   3. phase "indexed": runs `gatehouse migrate --admin-indexes` (pg_trgm GIN + date btrees) and
#      times the same calls again.
# The database (and with it every index and extension created here) is dropped on exit.
#
# Usage: bash benches/admin/search.sh
# Env:   PG_URL=postgres://postgres@127.0.0.1:5432  server URL (trust auth), without a database
#        SESSIONS=1000000 USERS=10000 REPS=5  TIME_LIMIT=3600 (seconds, whole run)
#        BIN=path  gatehouse binary (default: target/release if up to date, else target/debug,
#        built with `cargo build` when stale; cargo waits for the lock if another build runs)
#        PHASES="stock indexed"  which steps to run (subset allowed, in this order)
#        KEEP_DB=1  keep the database (prints its name) instead of dropping it
# Output: stdout and target/admin-bench/<timestamp>/ (summary.md, timings.tsv, logs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=.ci/lib.sh
source "$ROOT/.ci/lib.sh"
die_prefix="search.sh: "
TIME_LIMIT=${TIME_LIMIT:-3600}

# Bound the whole run: re-run this script under timeout(1); the EXIT trap still cleans up.
if [[ -z ${ADMIN_BENCH_INNER:-} ]]; then
    ADMIN_BENCH_INNER=1 exec timeout --signal=TERM --kill-after=60 "$TIME_LIMIT" bash "$0" "$@"
fi

PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
SESSIONS=${SESSIONS:-1000000}
USERS=${USERS:-10000}
REPS=${REPS:-5}
PHASES=${PHASES:-stock indexed}
DB=gatehouse_adminbench_$$
DB_URL=$PG_URL/$DB
TOKEN=adminbench-token-$$-0123456789abcdef
SECRET=adminbench-secret-$$-0123456789abcdef

for c in psql curl timeout awk python3; do command -v "$c" >/dev/null || die "$c is not installed"; done
[[ $SESSIONS =~ ^[1-9][0-9]*$ && $USERS =~ ^[1-9][0-9]*$ && $REPS =~ ^[1-9][0-9]*$ ]] \
    || die "bad SESSIONS, USERS or REPS"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/target/admin-bench/$STAMP
mkdir -p "$OUT"
TMP=$(mktemp -d -t gatehouse-adminbench.XXXXXX)
GW_PID=
DB_CREATED=
PORT=

psql_admin() { psql "$PG_URL/postgres" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_db() { psql "$DB_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }

stop_gateway() {
    stop_pids INT "$GW_PID"
    GW_PID=
    if [[ -n $PORT ]]; then rm -f "/tmp/gatehouse-$PORT.pid" "/tmp/gatehouse-$PORT.sock"; fi
}

cleanup() {
    trap - INT TERM
    stop_gateway
    if [[ -n $DB_CREATED ]]; then
        if [[ -n ${KEEP_DB:-} ]]; then
            echo "kept database $DB_URL (drop it with: DROP DATABASE $DB)" >&2
        else
            psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 \
                || echo "search.sh: could not drop database $DB" >&2
        fi
    fi
}
remove_on_exit "$TMP"
on_exit cleanup
trap 'exit 130' INT TERM

log_file=$OUT/summary.md
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

# --- HTTP timings ---------------------------------------------------------------------------------
printf 'phase\tcall\tmedian_ms\tmin_ms\tmax_ms\ttotal\ttotal_exact\n' >"$OUT/timings.tsv"

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
    local up=0
    wait_for --pid "$GW_PID" 30 http_ok "http://127.0.0.1:$mport/readyz" || up=$?
    ((up != 2)) || { tail -20 "$OUT/gateway.log" >&2; die "gateway exited"; }
    ((up == 0)) || die "gateway not ready after 30 s"
}

# time_call PHASE LABEL QUERY: one warm-up, then REPS timed GETs; median/min/max in ms.
declare -A MED
time_call() {
    local phase=$1 label=$2 query=$3 url times=() code t total exact
    url="http://127.0.0.1:$PORT/_gatehouse/api/sessions${query:+?$query}"
    for i in $(seq 0 "$REPS"); do
        read -r code t < <(curl -s -o "$TMP/body.json" -w '%{http_code} %{time_total}\n' \
            --max-time 60 -H "Authorization: Bearer $TOKEN" "$url")
        [[ $code == 200 ]] || die "$label: HTTP $code: $(head -c 300 "$TMP/body.json")"
        (( i > 0 )) && times+=("$t")
    done
    total=$(grep -o '"total":[0-9]*' "$TMP/body.json" | cut -d: -f2)
    exact=$(grep -o '"totalExact":[a-z]*' "$TMP/body.json" | cut -d: -f2)
    [[ $exact == false ]] && total="$total+"
    read -r med min max < <(printf '%s\n' "${times[@]}" | sort -g \
        | awk '{a[NR]=$1*1000} END {printf "%.0f %.0f %.0f\n", a[int((NR+1)/2)], a[1], a[NR]}')
    MED[$phase/$label]=$med
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$label" "$med" "$min" "$max" "${total%+}" "$exact" >>"$OUT/timings.tsv"
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
    "search: broad, page 40|search=$(enc "$T_BROAD")&page=40"
    "search: e-mail + status=active|search=$(enc "$T_EMAIL")&status=active"
    "sort=createdAt asc|sort=createdAt&order=asc"
)

run_http() {
    local phase=$1
    start_gateway
    echo "$phase: $(load_note)" | tee -a "$OUT/load.txt" >&2
    for c in "${CALLS[@]}"; do time_call "$phase" "${c%%|*}" "${c#*|}"; done
    stop_gateway
    echo "$phase: $(load_note) (after)" | tee -a "$OUT/load.txt" >&2
}

if has_phase stock; then
    echo "phase stock: schema as gatehouse migrate creates it" >&2
    run_http stock
fi
if has_phase indexed; then
    T0=$(date +%s)
    BETTER_AUTH_SECRET=$SECRET "$BIN" migrate --admin-indexes --database-url "$DB_URL" \
        >>"$OUT/migrate.log" 2>&1 || { cat "$OUT/migrate.log" >&2; die "migrate --admin-indexes failed"; }
    psql_db -c 'ANALYZE "session"' -c 'ANALYZE "user"' >/dev/null
    log "- \`gatehouse migrate --admin-indexes\` took $(( $(date +%s) - T0 )) s; index sizes:"
    psql_db -At -F ' ' -c "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c
        WHERE c.relname LIKE 'gatehouse!_%' ESCAPE '!' ORDER BY 1" | sed 's/^/  - /' | tee -a "$OUT/summary.md"
    echo "phase indexed: + gatehouse migrate --admin-indexes" >&2
    run_http indexed
fi
log

{
    echo "## GET /_gatehouse/api/sessions, median ms (count + page), total returned"
    echo
    header="| call |"; rule="|---|"
    for p in stock indexed; do has_phase "$p" && { header+=" $p |"; rule+="---:|"; }; done
    echo "$header total |"; echo "$rule---:|"
    for c in "${CALLS[@]}"; do
        l=${c%%|*}; row="| $l |"
        for p in stock indexed; do has_phase "$p" && row+=" ${MED[$p/$l]:-} |"; done
        total=$(awk -F'\t' -v l="$l" '$2 == l {t = $6 ($7 == "false" ? "+" : "")} END {print t}' "$OUT/timings.tsv")
        echo "$row $total |"
    done
} | tee -a "$OUT/summary.md"
echo "results: $OUT" >&2
