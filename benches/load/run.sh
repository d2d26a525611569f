#!/usr/bin/env bash
# What Gatehouse costs a request, against nginx and a bare Pingora, in one run, interleaved rep
# by rep, every proxy in front of the same upstream (nginx answering a fixed "ok"):
#   (n)  nginx proxy_pass with keep-alive to the upstream: the fastest proxy a team could pick
#   (p)  a bare Pingora pass-through (benches/load/bare_pingora.rs, same Pingora and allocator):
#        the limit for any Pingora gateway
#   (a)  Gatehouse, a `public` route
#   (b)  Gatehouse, a `required` route, warm cache (the same session on every request)
#   (cs) Gatehouse, a `required` route, cold tokens on SQLite: every request a session no
#        request used before, read from the database (seed.py seeds them, cold.lua sends them)
#   (cp) the same on PostgreSQL
#   (s)  (b) with the signed identity assertion (issue 14; not in the default TARGETS)
# Each proxy runs with THREADS worker threads. Prints, per rep and as medians, req/s, p50 and
# p99 latency and the proxy process's CPU per request, then the issue-15 ratios as medians of
# per-rep ratios with a 95% interval (stats.py). Before measuring it checks every route
# (identity injected, 401 without a cookie) and that a burst of 32 requests with one new token
# makes one database query (single-flight).
#
# Usage: bash benches/load/run.sh
# Env:   REPS=5 DURATION=3 WARMUP=1 (seconds) CONNECTIONS=32 THREADS=1
#        TARGETS="n p a b cs cp" (any subset, in that order, and s; cp needs PostgreSQL)
#        PGURL=postgres://postgres@127.0.0.1:5432/postgres (an admin URL: a database is made)
#        COLD_RATE_MAX=40000 (sessions seeded per second of cold load: raise it if a cold run
#        reports non-2xx answers because the seeded tokens ran out)
#        LOG_LEVEL=info (Gatehouse's [log] level: info writes the access log, to a file)
#        NO_BUILD=1 (reuse target/release/{gatehouse,examples/bare_pingora}); BIN, BARE (other
#        binaries, with NO_BUILD); OTHER_MAX=10
#        (flag reps where other programs used more than this % of the machine's CPU)
# Needs: wrk, nginx, curl, python3; psql for (cp).
# Output: stdout and target/load-results/run-<timestamp>.txt. Exit status 1 if any answer of a
# measured or warm-up run was not 2xx, or a check failed.
set -euo pipefail

REPS=${REPS:-5}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
TARGETS=${TARGETS:-n p a b cs cp}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
COLD_RATE_MAX=${COLD_RATE_MAX:-40000}
LOG_LEVEL=${LOG_LEVEL:-info}
OTHER_MAX=${OTHER_MAX:-10}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-$ROOT/target/release/gatehouse}
BARE=${BARE:-$ROOT/target/release/examples/bare_pingora}
export SUMMARY_LUA=$HERE/summary.lua
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=.ci/lib.sh
source "$ROOT/.ci/lib.sh"
# shellcheck source=benches/load/nginx.sh
source "$HERE/nginx.sh"
die_prefix="run.sh: "

for n in REPS DURATION WARMUP CONNECTIONS THREADS COLD_RATE_MAX; do
    [[ ${!n} =~ ^[0-9]+$ ]] || die "$n must be a whole number of seconds or a count"
done
for t in $TARGETS; do [[ $t =~ ^(n|p|a|b|cs|cp|s)$ ]] || die "unknown target $t in TARGETS"; done
wants() { [[ " $TARGETS " == *" $1 "* ]]; }
for tool in wrk nginx curl python3; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
if wants cp; then command -v psql >/dev/null || die "psql is not installed (TARGETS without cp skips PostgreSQL)"; fi

if [[ -z ${NO_BUILD:-} ]]; then
    echo "building: cargo build --release --bin gatehouse --example bare_pingora" >&2
    (cd "$ROOT" && cargo build --release --quiet --bin gatehouse --example bare_pingora) \
        || die "release build failed"
fi
[[ -x $BIN && -x $BARE ]] || die "no binaries at $BIN and $BARE (run without NO_BUILD)"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$ROOT/target/load-results"
OUT=$ROOT/target/load-results/run-$STAMP.txt
log_file=$OUT
DATA=$(mktemp -d -t gatehouse-load.XXXXXX)
read -r UP NGX BARE_PORT GW GW_OPS CS CS_OPS CP CP_OPS <<<"$(free_ports 9 | tr '\n' ' ')"
SECRET=load-bench-secret-0123456789abcdef0123
PGDB=gh_load_bench_$$
declare -A PID=()
remove_on_exit "$DATA"
for port in "$GW" "$CS" "$CP"; do remove_on_exit "/tmp/gatehouse-$port.pid" "/tmp/gatehouse-$port.sock"; done
remove_on_exit "/tmp/bare-pingora-$BARE_PORT.pid" "/tmp/bare-pingora-$BARE_PORT.sock"
cleanup() {
    stop_pids INT "${PID[p]:-}" "${PID[gw]:-}" "${PID[cs]:-}" "${PID[cp]:-}"
    stop_pids QUIT "${PID[front]:-}" "${PID[up]:-}"
    if wants cp; then psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true; fi
}
on_exit cleanup
trap 'exit 130' INT TERM

# --- nginx: the upstream, and (n) in front of it (separate processes: separate CPU figures) ---
# The upstream is not one of the compared proxies: its one worker serves them all.
bench_nginx "$DATA/up" 1 "server { listen 127.0.0.1:$UP;
        location = /bench/whoami { return 200 \"user \$http_x_auth_user_id\\n\"; }
        location / { return 200 \"ok\\n\"; } }"
PID[up]=$NGINX_PID
if wants n; then
    bench_nginx "$DATA/front" "$THREADS" "upstream app { server 127.0.0.1:$UP; keepalive 64; }
    server { listen 127.0.0.1:$NGX; location / {
        proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
    PID[front]=$NGINX_PID
fi

# --- the bare Pingora pass-through ---
if wants p; then
    "$BARE" "127.0.0.1:$BARE_PORT" "127.0.0.1:$UP" "$THREADS" >"$DATA/bare.log" 2>&1 &
    PID[p]=$!
fi

# --- databases: SQLite (a file in $DATA) and PostgreSQL, migrated, with seeded sessions ---
COLD_SESSIONS=$(( REPS * (DURATION + WARMUP) * COLD_RATE_MAX + 1000 ))
SQLITE_URL="sqlite://$DATA/gatehouse.db"
"$BIN" migrate --database-url "$SQLITE_URL" >/dev/null || die "cannot migrate $SQLITE_URL"
python3 "$HERE/seed.py" sqlite "$DATA/gatehouse.db" "$SECRET" 1 warm "$DATA/warm.cookies"
if wants cs; then
    echo "seeding $COLD_SESSIONS cold sessions in SQLite" >&2
    python3 "$HERE/seed.py" sqlite "$DATA/gatehouse.db" "$SECRET" "$COLD_SESSIONS" cold "$DATA/cs.cookies"
fi
if wants cp; then
    psql -q "$PGURL" -c "CREATE DATABASE $PGDB" >/dev/null || die "cannot create database $PGDB at $PGURL"
    PG_URL="${PGURL%/*}/$PGDB"
    "$BIN" migrate --database-url "$PG_URL" >/dev/null || die "cannot migrate $PG_URL"
    echo "seeding $COLD_SESSIONS cold sessions in PostgreSQL" >&2
    python3 "$HERE/seed.py" postgres "$PG_URL" "$SECRET" 1 warm "$DATA/warm.cookies"
    python3 "$HERE/seed.py" postgres "$PG_URL" "$SECRET" "$COLD_SESSIONS" cold "$DATA/cp.cookies"
    psql -q "$PG_URL" -c "VACUUM ANALYZE" >/dev/null
fi
COOKIE=$(cat "$DATA/warm.cookies")

# --- Gatehouse: (a) and (b) on one instance; the cold runs on their own, so their cache growth
#     does not touch (a) and (b) ---
gatehouse() { # <name> <port> <ops port> <database url>
    cat >"$DATA/$1.toml" <<TOML
[server]
listen = "127.0.0.1:$2"
threads = $THREADS
[database]
url = "$4"
[metrics]
listen = "127.0.0.1:$3"
[log]
level = "$LOG_LEVEL"
[proxy]
upstream = "http://127.0.0.1:$UP"
[identity_assertion]
enabled = true
key_dir = "$DATA/$1-keys"
[[routes]]
prefix = "/public"
policy = "public"
[[routes]]
prefix = "/sign"
assertion_audience = "bench"
TOML
    BETTER_AUTH_SECRET=$SECRET "$BIN" serve --config "$DATA/$1.toml" >"$DATA/$1.log" 2>&1 &
    PID[$1]=$!
}
if wants a || wants b || wants s; then gatehouse gw "$GW" "$GW_OPS" "$SQLITE_URL"; fi
if wants cs; then gatehouse cs "$CS" "$CS_OPS" "$SQLITE_URL"; fi
if wants cp; then gatehouse cp "$CP" "$CP_OPS" "$PG_URL"; fi

# url_of <target>, port_of <target>, pids_of <target> (the processes whose CPU is the target's)
url_of() {
    case $1 in
        n) echo "http://127.0.0.1:$NGX/bench" ;;
        p) echo "http://127.0.0.1:$BARE_PORT/bench" ;;
        a) echo "http://127.0.0.1:$GW/public/bench" ;;
        b) echo "http://127.0.0.1:$GW/bench" ;;
        s) echo "http://127.0.0.1:$GW/sign/bench" ;;
        cs) echo "http://127.0.0.1:$CS/bench" ;;
        cp) echo "http://127.0.0.1:$CP/bench" ;;
    esac
}
pids_of() {
    case $1 in
        n) echo "${PID[front]} $(pgrep -P "${PID[front]}" | tr '\n' ' ')" ;;
        p) echo "${PID[p]}" ;;
        a | b | s) echo "${PID[gw]}" ;;
        *) echo "${PID[$1]}" ;;
    esac
}

status() { curl -s -o "$DATA/body" -w '%{http_code}' --max-time 5 "$@"; }
all_up() {
    local t
    for t in $TARGETS; do [[ $(status -H "Cookie: $COOKIE" "$(url_of "$t")") == 200 ]] || return 1; done
}
wait_for 60 all_up || die "not every proxy answered 200: $(for f in "$DATA"/*.log; do tail -c 600 "$f"; done)"

# --- checks: identity injected on (b), 401 without a cookie, single-flight on a cold burst ---
for t in $TARGETS; do
    case $t in
        a | n | p | s) continue ;;
    esac
    url=$(url_of "$t")
    [[ $(status "$url") == 401 ]] || die "($t) without a cookie did not answer 401"
    if [[ $(status -H "Cookie: $COOKIE" "${url%/bench}/bench/whoami") != 200 ]] \
        || ! grep -q 'warmu' "$DATA/body"; then
        die "($t) the upstream did not receive the user's identity: $(head -c 300 "$DATA/body")"
    fi
done
db_queries() { # <ops port>: session-store queries so far
    curl -s "http://127.0.0.1:$1/metrics" \
        | awk '/^gatehouse_db_query_duration_seconds_count/ { n += $2 } END { print n + 0 }'
}
for t in cs cp; do
    wants "$t" || continue
    if [[ $t == cs ]]; then ops=$CS_OPS; port=$CS; else ops=$CP_OPS; port=$CP; fi
    # The seeded cookies' last line: one token no run will reach.
    burst=$(tail -n1 "$DATA/$t.cookies")
    before=$(db_queries "$ops")
    curls=()
    for _ in $(seq 32); do
        curl -s -o /dev/null -H "Cookie: $burst" "http://127.0.0.1:$port/bench" &
        curls+=($!)
    done
    wait "${curls[@]}"
    queries=$(( $(db_queries "$ops") - before ))
    log "single-flight ($t): 32 concurrent requests with one new token made $queries database quer$( ((queries == 1)) && echo y || echo ies)"
    ((queries == 1)) || die "($t) a burst of one cold token made $queries queries, not 1"
done

CLK_TCK=$(getconf CLK_TCK)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || COMMIT="$COMMIT+dirty"
log "gatehouse load test  $STAMP"
log "machine: nproc=$(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r)"
log "commit: $COMMIT; $(nginx -v 2>&1 | sed 's/.*: //'); $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)"
log "every proxy: $THREADS worker thread(s); upstream: nginx, 1 worker, fixed \"ok\"; Gatehouse [log] level $LOG_LEVEL (access log to a file)"
log "load: wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency, warm-up ${WARMUP}s before each run; $REPS reps, order: $TARGETS"
log ""

# CPU in clock ticks: the target's processes (utime + stime), wrk (this shell's reaped
# children), the machine (busy and total from /proc/stat); "other%" is the machine's busy time
# spent in none of the proxies, the upstream or wrk, as a share of all CPUs.
ticks_of() { local p s=0; for p in "$@"; do s=$(( s + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0) )); done; echo "$s"; }
# PostgreSQL's server processes count as ours when (cp) runs: its queries are (cp)'s work.
all_ours() {
    local t
    for t in $TARGETS; do pids_of "$t"; done
    echo "${PID[up]} $(pgrep -P "${PID[up]}" | tr '\n' ' ')"
    if wants cp; then pgrep -u postgres | tr '\n' ' '; fi
}
# Context switches of the target's threads (voluntary and not): each is a thread that waited
# (for the database, SQLite's worker thread, a lock) or was preempted. How many also depends on
# timing: a thread that finds more work waiting does not sleep.
switches_of() {
    local p s=0
    for p in "$@"; do
        s=$(( s + $(cat /proc/"$p"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }') ))
    done
    echo "$s"
}
child_ticks() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }
sys_ticks() { awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat; }

declare -A OFFSET=([cs]=0 [cp]=0)
# run_wrk <target> <seconds> -> "requests duration_us p50_us p99_us mean_us status_errors socket_errors"
run_wrk() {
    local t=$1 secs=$2 out line script=(-s "$SUMMARY_LUA") header=(-H "Cookie: $COOKIE")
    if [[ $t == c? ]]; then
        script=(-s "$HERE/cold.lua"); header=()
        export COLD_COOKIES=$DATA/$t.cookies COLD_OFFSET=${OFFSET[$t]}
    fi
    out=$(timeout $(( secs + 30 )) wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency "${header[@]}" \
        "${script[@]}" "$(url_of "$t")") || die "wrk failed or hung against ($t)"
    line=$(grep '^RESULT ' <<<"$out" | tail -n1)
    [[ -n $line ]] || die "no RESULT line from wrk: $out"
    read -r reqs _ <<<"${line#RESULT }"
    # Requests still in flight at the end took a cookie too.
    if [[ $t == c? ]]; then OFFSET[$t]=$(( OFFSET[$t] + reqs + CONNECTIONS )); fi
    echo "${line#RESULT }"
}

FAILED=0
: >"$DATA/reps.txt"
printf -v HDR '%-4s %-4s %9s %9s %9s %9s %7s %7s %11s %9s %7s' \
    rep run 'req/s' 'p50(us)' 'p99(us)' requests non2xx sockerr 'cpu/req(us)' 'switches' 'other%'
log "$HDR"
for rep in $(seq 1 "$REPS"); do
    for t in $TARGETS; do
        if ((WARMUP > 0)); then
            read -r _ _ _ _ _ werr _ <<<"$(run_wrk "$t" "$WARMUP")"
            if ((werr > 0)); then log "($t) warm-up: $werr non-2xx answers"; FAILED=1; fi
        fi
        read -ra mine <<<"$(pids_of "$t")"
        read -ra ours <<<"$(all_ours | tr '\n' ' ')"
        g0=$(ticks_of "${mine[@]}"); o0=$(ticks_of "${ours[@]}"); w0=$(child_ticks); read -r b0 t0 < <(sys_ticks)
        s0=$(switches_of "${mine[@]}")
        res=$(run_wrk "$t" "$DURATION")
        g1=$(ticks_of "${mine[@]}"); o1=$(ticks_of "${ours[@]}"); w1=$(child_ticks); read -r b1 t1 < <(sys_ticks)
        s1=$(switches_of "${mine[@]}")
        read -r reqs dur_us p50 p99 _mean serr sockerr <<<"$res"
        read -r rps cpu other switches < <(python3 "$HERE/stats.py" run "$reqs" "$dur_us" $(( g1 - g0 )) \
            "$CLK_TCK" $(( b1 - b0 )) $(( o1 - o0 )) $(( w1 - w0 )) $(( t1 - t0 )) $(( s1 - s0 )))
        clean=1 flag=""
        if ((other > OTHER_MAX)); then clean=0 flag=" noisy"; fi
        printf -v row '%-4s %-4s %9s %9s %9s %9s %7s %7s %11s %9s %7s' \
            "$rep" "($t)" "$rps" "$p50" "$p99" "$reqs" "$serr" "$sockerr" "$cpu" "$switches" "$other"
        log "$row$flag"
        ((serr == 0 && sockerr == 0)) || FAILED=1
        echo "$rep $t $rps $p50 $p99 $cpu $switches $clean" >>"$DATA/reps.txt"
    done
done
summary=$(python3 "$HERE/stats.py" compare "$OTHER_MAX" "$DATA/reps.txt") || die "stats.py compare failed"
while IFS= read -r line; do log "$line"; done <<<"$summary"
if ((FAILED)); then
    log "FAILED: some answers were not 2xx or sockets failed (see the non2xx and sockerr columns)"
    exit 1
fi
log "all answers 2xx; results in $OUT"
