#!/usr/bin/env bash
# What fitting into a team's own proxy costs, in one run, interleaved rep by rep, with a real
# Better Auth session (signed up on a real Better Auth server, tests/interop/server.mjs, on a
# PostgreSQL database that Gatehouse reads too) and the same upstream (nginx answering "ok"):
#   (f) nginx auth_request -> Gatehouse forward-auth, then nginx -> upstream
#   (b) nginx auth_request -> Better Auth's own get-session (cookie cache on), then -> upstream
#       (what a team would build without Gatehouse)
#   (p) Gatehouse as the proxy itself, a required route
#   (a) the same with the signed identity assertion (assertion_audience; warm token cache)
# Prints req/s, mean latency and failures for each, and f/b, f/p and a/p (median of the per-rep
# ratios). Target for a/p: at least 0.98.
#
# Usage: bash benches/load/forward-auth.sh
# Env:   REPS=5 DURATION=3 (seconds) WARMUP=1 CONNECTIONS=32 NO_BUILD=1 BIN=path
#        PGURL=postgres://postgres@127.0.0.1:5432/postgres (an admin URL; a database is made)
# Needs: nginx, wrk, node + npm ci in tests/interop, psql, curl, python3.
set -euo pipefail

REPS=${REPS:-5}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-32}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-$ROOT/target/release/gatehouse}
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=.ci/lib.sh
source "$ROOT/.ci/lib.sh"
# shellcheck source=benches/load/nginx.sh
source "$HERE/nginx.sh"
die_prefix="forward-auth.sh: "

for tool in nginx wrk node psql curl python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -d $ROOT/tests/interop/node_modules ]] || die "run npm ci --prefix tests/interop first"
if [[ -z ${NO_BUILD:-} ]]; then
    (cd "$ROOT" && cargo build --release --quiet) || die "release build failed"
fi
[[ -x $BIN ]] || die "no binary at $BIN"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$ROOT/target/load-results"
OUT=$ROOT/target/load-results/forward-auth-$STAMP.txt
log_file=$OUT
DATA=$(mktemp -d -t gatehouse-fa.XXXXXX)
read -r UP NGX BA GW OPS <<<"$(free_ports 5 | tr '\n' ' ')"
DB=gh_fa_bench_$$
DB_URL="${PGURL%/*}/$DB"
SECRET=forward-auth-bench-secret-0123456789abcdef
PIDS=()
remove_on_exit "$DATA" "/tmp/gatehouse-$GW.pid" "/tmp/gatehouse-$GW.sock"
cleanup() {
    stop_pids QUIT "${PIDS[@]:2}"
    stop_pids INT "${PIDS[@]:0:2}"
    psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
on_exit cleanup
trap 'exit 130' INT TERM

psql -q "$PGURL" -c "CREATE DATABASE $DB" >/dev/null || die "cannot create database $DB"

# --- Better Auth (its own migrator), and a user signed up through it ---
DATABASE_URL=$DB_URL BETTER_AUTH_SECRET=$SECRET PORT=$BA BA_MIGRATE=1 COOKIE_CACHE=compact \
    BETTER_AUTH_URL="http://127.0.0.1:$NGX" node "$ROOT/tests/interop/server.mjs" \
    >"$DATA/ba.out" 2>"$DATA/ba.err" &
PIDS+=($!)
wait_for 30 grep -q READY "$DATA/ba.out" || die "Better Auth did not start: $(head -c 2000 "$DATA/ba.err")"
curl -s -o /dev/null -D "$DATA/signup.headers" -H 'content-type: application/json' \
    -H "origin: http://127.0.0.1:$NGX" \
    -d '{"email":"bench@example.com","password":"bench-password-123","name":"Bench"}' \
    "http://127.0.0.1:$BA/api/auth/sign-up/email"
COOKIE=$(sed -n 's/^set-cookie: \([^;]*\);.*/\1/Ip' "$DATA/signup.headers" | paste -sd ';' | sed 's/;/; /g')
[[ $COOKIE == *session_token=* ]] || die "sign-up gave no session cookie: $(cat "$DATA/signup.headers")"

# --- Gatehouse on the same database: proxy routes and the forward-auth endpoint ---
cat >"$DATA/gatehouse.toml" <<TOML
[server]
listen = "127.0.0.1:$GW"
threads = 1
[database]
url = "$DB_URL"
[metrics]
listen = "127.0.0.1:$OPS"
[log]
level = "warn"
[rate_limit]
enabled = false
[proxy]
upstream = "http://127.0.0.1:$UP"
trusted_proxies = ["127.0.0.1"]
[forward_auth]
enabled = true
callers = ["127.0.0.1"]
[identity_assertion]
enabled = true
key_dir = "$DATA/keys"
[[routes]]
prefix = "/asserted"
assertion_audience = "bench"
TOML
BETTER_AUTH_SECRET=$SECRET "$BIN" serve --config "$DATA/gatehouse.toml" >"$DATA/gw.out" 2>&1 &
PIDS+=($!)

# --- nginx: the upstream, and the auth_request front for (f) and (b) ---
bench_nginx "$DATA/nginx" 1 "upstream gatehouse { server 127.0.0.1:$GW; keepalive 64; }
    upstream betterauth { server 127.0.0.1:$BA; keepalive 64; }
    upstream app { server 127.0.0.1:$UP; keepalive 64; }
    server { listen 127.0.0.1:$UP; location / { return 200 \"ok\\n\"; } }
    server {
        listen 127.0.0.1:$NGX;
        proxy_http_version 1.1;
        proxy_set_header Connection \"\";
        location = /_gh {
            internal;
            proxy_pass http://gatehouse/_gatehouse/forward-auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length \"\";
            proxy_set_header Connection \"\";
            proxy_set_header X-Original-URI \$request_uri;
            proxy_set_header X-Original-Method \$request_method;
        }
        location = /_ba {
            internal;
            proxy_pass http://betterauth/api/auth/get-session;
            proxy_pass_request_body off;
            proxy_set_header Content-Length \"\";
            proxy_set_header Connection \"\";
        }
        location /f/ {
            auth_request /_gh;
            auth_request_set \$uid \$upstream_http_x_auth_user_id;
            proxy_set_header X-Auth-User-Id \$uid;
            proxy_pass http://app;
        }
        location /b/ {
            auth_request /_ba;
            proxy_pass http://app;
        }
    }"
PIDS+=("$NGINX_PID")

status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
ready() {
    [[ $(status -H "Cookie: $COOKIE" "http://127.0.0.1:$NGX/f/x") == 200 ]] \
        && [[ $(status -H "Cookie: $COOKIE" "http://127.0.0.1:$GW/x") == 200 ]]
}
wait_for 30 ready || die "not ready: $(tail -c 2000 "$DATA/gw.out") $(cat "$DATA/nginx/start.err")"
[[ $(status "http://127.0.0.1:$NGX/f/x") == 401 ]] || die "(f) without a cookie was not refused"
[[ $(status -H "Cookie: $COOKIE" "http://127.0.0.1:$NGX/b/x") == 200 ]] || die "(b) did not answer 200"
[[ $(status -H "Cookie: $COOKIE" "http://127.0.0.1:$GW/asserted/x") == 200 ]] || die "(a) did not answer 200"

# measure <url> <seconds> -> "req/s mean_us failures"
measure() {
    local out reqs dur_us mean serr sockerr
    out=$(timeout $(( $2 + 30 )) wrk -t1 -c"$CONNECTIONS" -d"${2}s" -H "Cookie: $COOKIE" \
        -s "$HERE/summary.lua" "$1") || die "wrk failed against $1"
    read -r reqs dur_us _ _ mean serr sockerr < <(grep '^RESULT ' <<<"$out" | tail -n1 | cut -d' ' -f2-)
    echo "$(python3 -c "print('%.0f' % ($reqs / ($dur_us / 1e6)))") ${mean%.*} $(( serr + sockerr ))"
}

log "gatehouse forward-auth benchmark  $STAMP"
log "machine: nproc=$(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
log "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown); $(nginx -v 2>&1 | sed 's/.*: //'); node $(node --version); PostgreSQL; one worker each; $CONNECTIONS connections; $REPS reps of ${DURATION}s"
log ""
printf -v HDR '%-4s %-4s %9s %10s %8s' rep run 'req/s' 'mean(us)' failed
log "$HDR"
declare -A RPS
FAILED=0
for rep in $(seq 1 "$REPS"); do
    for run in f b p a; do
        case $run in
            f) url="http://127.0.0.1:$NGX/f/x" ;;
            b) url="http://127.0.0.1:$NGX/b/x" ;;
            p) url="http://127.0.0.1:$GW/x" ;;
            a) url="http://127.0.0.1:$GW/asserted/x" ;;
        esac
        ((WARMUP == 0)) || measure "$url" "$WARMUP" >/dev/null
        read -r rps mean failed < <(measure "$url" "$DURATION")
        printf -v row '%-4s %-4s %9s %10s %8s' "$rep" "($run)" "$rps" "$mean" "$failed"
        log "$row"
        ((failed == 0)) || FAILED=1
        RPS[$run,$rep]=$rps
    done
done
log ""
for pair in "b f nginx+Gatehouse forward-auth / nginx+Better Auth get-session" \
    "p f nginx+Gatehouse forward-auth / Gatehouse as the proxy" \
    "p a with the identity assertion / without (target >= 0.98)"; do
    read -r base mine name <<<"$pair"
    for rep in $(seq 1 "$REPS"); do echo "${RPS[$base,$rep]} ${RPS[$mine,$rep]}"; done >"$DATA/pair.txt"
    log "$(python3 "$HERE/stats.py" ratios "$name" "$DATA/pair.txt")"
done
if ((FAILED)); then log "FAILED: some requests failed"; exit 1; fi
log "all requests succeeded; results in $OUT"
