#!/usr/bin/env bash
# End-to-end load test of the gateway, in one run:
#   (a) GET /public/bench  route policy `public`   (proxy only, no session check)
#   (b) GET /bench         route policy `required` (signed cookie + warm moka cache, then proxy)
# Both go through the same gateway (`gatehouse demo`) to the same upstream, with the same Cookie
# header, so the only difference is the auth step. The upstream is nginx answering a fixed "ok"
# (UPSTREAM=nginx, the default when nginx is installed: a separate process, as a real app is) or
# the demo's in-process echo (UPSTREAM=echo). Prints req/s, p50 and p99 per rep, the medians,
# and (b)/(a).
#
# Usage: bash benches/load/run.sh
# Env:   DURATION=3s CONNECTIONS=32 REPS=15 WARMUP=1s  (wrk -t1 -c$CONNECTIONS -d$DURATION --latency)
#        Many short interleaved reps: this shared VM's speed drifts by 10-20% within a minute, so
#        each rep's (b)/(a) compares neighbours, and the median of those ratios is the figure.
#        THREADS=1  gateway worker threads (`gatehouse demo --threads`)
#        UPSTREAM=nginx|echo  (default nginx if installed, else echo)
#        NO_BUILD=1  skip `cargo build --release`;  BIN=path  use another gatehouse binary;
#        PIN=1  gateway on CPU 0, wrk on CPU 1;  OTHER_MAX=10  flag runs where other programs
#        used more than this % of the machine's CPU.
# Output: stdout and target/load-results/<timestamp>.txt. Exit status 1 if any response of a
# measured or warm-up run was not 2xx, or a sanity check failed.
set -euo pipefail

DURATION=${DURATION:-3s}
CONNECTIONS=${CONNECTIONS:-32}
REPS=${REPS:-15}
WARMUP=${WARMUP:-1s}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-$ROOT/target/release/gatehouse}
LUA=$HERE/summary.lua
STATS=$HERE/stats.py
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=.ci/lib.sh
source "$ROOT/.ci/lib.sh"
die_prefix="run.sh: "

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v curl >/dev/null || die "curl is not installed"
command -v python3 >/dev/null || die "python3 is not installed (benches/load/stats.py computes the figures)"

# "10s" / "1m" / "10" -> whole seconds (for the outer timeouts).
to_secs() {
    case $1 in
        *ms) echo 1 ;;
        *s) echo "${1%s}" ;;
        *m) echo $(( ${1%m} * 60 )) ;;
        *h) echo $(( ${1%h} * 3600 )) ;;
        *) echo "$1" ;;
    esac
}
DUR_S=$(to_secs "$DURATION")
WARM_S=$(to_secs "$WARMUP")
[[ $DUR_S =~ ^[0-9]+$ && $WARM_S =~ ^[0-9]+$ ]] || die "bad DURATION or WARMUP"
[[ $REPS =~ ^[1-9][0-9]*$ && $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "bad REPS or CONNECTIONS"

if [[ -z ${NO_BUILD:-} ]]; then
    echo "building: cargo build --release (wait for the cargo lock if another build runs)" >&2
    (cd "$ROOT" && cargo build --release --quiet) || die "release build failed"
fi
[[ -x $BIN ]] || die "no binary at $BIN"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=$ROOT/target/load-results
mkdir -p "$RESULTS_DIR"
OUT=$RESULTS_DIR/$STAMP.txt
DATA=$(mktemp -d -t gatehouse-load.XXXXXX)
PORT=$(free_port)
GW_PID=
NGX_PID=

remove_on_exit "$DATA" "/tmp/gatehouse-$PORT.pid" "/tmp/gatehouse-$PORT.sock"
# nginx: SIGQUIT, its graceful stop; the gateway: SIGINT, Pingora's fast shutdown.
stop_servers() { stop_pids QUIT "$NGX_PID"; stop_pids INT "$GW_PID"; }
on_exit stop_servers
trap 'exit 130' INT TERM

log_file=$OUT

# PIN=1: gateway (and its echo upstream) on CPU 0, wrk (and nginx) on CPU 1.
PIN_GW=(); PIN_WRK=()
if [[ -n ${PIN:-} ]]; then PIN_GW=(taskset -c 0); PIN_WRK=(taskset -c 1); fi

# --- the upstream: nginx (one worker, no access log, a fixed "ok"), or the demo's echo ---
if [[ -z ${UPSTREAM:-} ]]; then
    if command -v nginx >/dev/null; then UPSTREAM="nginx"; else UPSTREAM="echo"; fi
fi
UPSTREAM_ARGS=()
case $UPSTREAM in
    nginx)
        command -v nginx >/dev/null || die "UPSTREAM=nginx but nginx is not installed (apt-get install nginx)"
        NGX_PORT=$(free_port)
        mkdir -p "$DATA/nginx"
        cat >"$DATA/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $DATA/nginx/nginx.pid;
error_log $DATA/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $DATA/nginx;
    proxy_temp_path $DATA/nginx;
    fastcgi_temp_path $DATA/nginx;
    uwsgi_temp_path $DATA/nginx;
    scgi_temp_path $DATA/nginx;
    server {
        listen 127.0.0.1:$NGX_PORT;
        # For the sanity check: the identity the gateway injected.
        location = /bench/whoami { return 200 "user \$http_x_auth_user_id\n"; }
        location / { return 200 "ok\n"; }
    }
}
NGINX
        "${PIN_WRK[@]}" nginx -c "$DATA/nginx/nginx.conf" -p "$DATA/nginx" 2>"$DATA/nginx/start.err" &
        NGX_PID=$!
        up=0; wait_for --pid "$NGX_PID" 5 http_answers "http://127.0.0.1:$NGX_PORT/" || up=$?
        ((up != 2)) || die "nginx did not start: $(cat "$DATA/nginx/start.err")"
        UPSTREAM_ARGS=(--upstream "http://127.0.0.1:$NGX_PORT")
        IDENTITY_PATH=/bench/whoami
        ;;
    echo) IDENTITY_PATH=/bench ;;
    *) die "UPSTREAM must be nginx or echo" ;;
esac

# --- start the demo: SQLite + demo session, the gateway (and the echo upstream) ---
RUST_LOG=${RUST_LOG:-warn} "${PIN_GW[@]}" "$BIN" demo --data-dir "$DATA" --listen "127.0.0.1:$PORT" \
    --threads "${THREADS:-1}" "${UPSTREAM_ARGS[@]}" \
    >"$DATA/gateway.out" 2>"$DATA/gateway.err" &
GW_PID=$!

COOKIE=
gateway_up() { # the demo printed its cookie and the gateway answers
    COOKIE=$(sed -n "s/.*'Cookie: \([^']*\)'.*/\1/p" "$DATA/gateway.out" | head -n1)
    [[ -n $COOKIE ]] && http_answers "http://127.0.0.1:$PORT/public/ready"
}
up=0; wait_for --pid "$GW_PID" 30 gateway_up || up=$?
if ((up == 2)); then
    cat "$DATA/gateway.err" >&2
    die "gateway exited during startup"
fi
[[ -n $COOKIE ]] \
    || die "no 'Cookie: ...' line from gatehouse demo (stdout: $(head -c 500 "$DATA/gateway.out"))"

# `?quiet`: the echo upstream answers a fixed "ok" on both routes, so the comparison measures the
# gateway, not the upstream echoing the injected identity headers back.
URL_A="http://127.0.0.1:$PORT/public/bench?quiet"
URL_B="http://127.0.0.1:$PORT/bench?quiet"

# --- sanity: (a) 200, (b) 200 with the cookie and the identity injected, (b) 401 without ---
status() { curl -s -o "$DATA/body" -w '%{http_code}' --max-time 5 "$@"; }
[[ $(status -H "Cookie: $COOKIE" "$URL_A") == 200 ]] || die "(a) $URL_A did not answer 200"
[[ $(status -H "Cookie: $COOKIE" "$URL_B") == 200 ]] \
    || die "(b) $URL_B with the demo cookie did not answer 200"
[[ $(status -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$IDENTITY_PATH") == 200 ]] \
    || die "(b) $IDENTITY_PATH did not answer 200"
grep -q 'demoUser' "$DATA/body" \
    || die "(b) the upstream did not receive the user's identity: $(head -c 300 "$DATA/body")"
[[ $(status "$URL_B") == 401 ]] \
    || die "(b) $URL_B without a cookie did not answer 401 (is the route really required?)"

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || COMMIT="$COMMIT+dirty"
CLK_TCK=$(getconf CLK_TCK)

: >"$OUT"
log "gatehouse load test  $STAMP"
log "machine: nproc=$(nproc), CPU: ${CPU_MODEL:-unknown}, kernel $(uname -r)"
log "commit: $COMMIT   binary: $BIN"
TASKS=("/proc/$GW_PID/task/"*)
log "gateway: gatehouse demo on 127.0.0.1:$PORT (pid $GW_PID, ${#TASKS[@]} OS threads)"
if [[ $UPSTREAM == nginx ]]; then
    log "upstream: $(nginx -v 2>&1 | sed 's/.*: //') on 127.0.0.1:$NGX_PORT, 1 worker, fixed \"ok\""
else
    log "upstream: the demo's echo, in the gateway process (fixed \"ok\" for ?quiet)"
fi
if ((${#PIN_GW[@]})); then log "pinning: gateway on CPU 0, wrk on CPU 1"; else log "pinning: none"; fi
log "load: wrk -t1 -c$CONNECTIONS -d$DURATION --latency -H 'Cookie: <demo session>' -s summary.lua"
log "      warm-up $WARMUP before each run; $REPS reps, order a,b"
log "(a) GET $URL_A  (public)    (b) GET $URL_B  (required, warm cache)"
log ""

# CPU accounting, in clock ticks:
#  - the gateway process (utime + stime); the demo's echo upstream runs in the same process;
#  - nginx, when it is the upstream (its master and worker);
#  - wrk, through this shell's reaped-children times (cutime + cstime);
#  - the whole machine (busy = user + nice + system + irq + softirq + steal, and total).
# "other%" is the machine's busy time not spent in the gateway, nginx or wrk, as a share of all CPUs:
# other programs (a build, a test run) competing for the 2 cores. Runs with more than
# OTHER_MAX% (default 10) are flagged as noisy, and the ratio is also given over clean reps.
gw_ticks() { awk '{ print $14 + $15 }' "/proc/$GW_PID/stat"; }
child_ticks() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }
up_ticks() {
    [[ -n $NGX_PID ]] || { echo 0; return; }
    local pid sum=0
    for pid in "$NGX_PID" $(pgrep -P "$NGX_PID"); do
        sum=$(( sum + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0) ))
    done
    echo "$sum"
}
sys_ticks() {
    awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat
}
OTHER_MAX=${OTHER_MAX:-10}

# run_wrk <duration> <url> -> "requests duration_us p50_us p99_us mean_us status_errors socket_errors"
run_wrk() {
    local dur=$1 url=$2 out line
    out=$("${PIN_WRK[@]}" timeout $(( $(to_secs "$dur") + 30 )) \
        wrk -t1 -c"$CONNECTIONS" -d"$dur" --latency -H "Cookie: $COOKIE" -s "$LUA" "$url") \
        || die "wrk failed or hung against $url"
    line=$(grep '^RESULT ' <<<"$out" | tail -n1)
    [[ -n $line ]] || die "no RESULT line from wrk: $out"
    echo "${line#RESULT }"
}

FAILED=0
declare -a RPS_A RPS_B P50_A P50_B P99_A P99_B CPU_A CPU_B CLEAN
printf -v HDR '%-4s %-3s %9s %9s %9s %9s %7s %7s %11s %7s' \
    rep rt 'req/s' 'p50(us)' 'p99(us)' requests non2xx sockerr 'cpu/req(us)' 'other%'
log "$HDR"
for rep in $(seq 1 "$REPS"); do
    clean=1
    for target in a b; do
        if [[ $target == a ]]; then url=$URL_A; else url=$URL_B; fi
        res=$(run_wrk "$WARMUP" "$url")
        read -r _ _ _ _ _ werr _ <<<"$res"
        if (( werr > 0 )); then log "($target) warm-up: $werr non-2xx responses"; FAILED=1; fi

        g0=$(gw_ticks); u0=$(up_ticks); w0=$(child_ticks); read -r b0 t0 < <(sys_ticks)
        res=$(run_wrk "$DURATION" "$url")
        g1=$(gw_ticks); u1=$(up_ticks); w1=$(child_ticks); read -r b1 t1 < <(sys_ticks)
        read -r reqs dur_us p50 p99 _mean serr sockerr <<<"$res"

        figures=$(python3 "$STATS" run "$reqs" "$dur_us" $(( g1 - g0 )) "$CLK_TCK" \
            $(( b1 - b0 )) $(( g1 - g0 + u1 - u0 )) $(( w1 - w0 )) $(( t1 - t0 ))) \
            || die "stats.py run failed"
        read -r rps cpu other <<<"$figures"
        flag=""
        if (( other > OTHER_MAX )); then flag=" noisy"; clean=0; fi
        printf -v row '%-4s %-3s %9s %9s %9s %9s %7s %7s %11s %7s' \
            "$rep" "($target)" "$rps" "$p50" "$p99" "$reqs" "$serr" "$sockerr" "$cpu" "$other"
        log "$row$flag"
        if (( serr > 0 )); then FAILED=1; fi
        if [[ $target == a ]]; then
            RPS_A+=("$rps"); P50_A+=("$p50"); P99_A+=("$p99"); CPU_A+=("$cpu")
        else
            RPS_B+=("$rps"); P50_B+=("$p50"); P99_B+=("$p99"); CPU_B+=("$cpu")
        fi
    done
    CLEAN+=("$clean")
done

# The medians, the per-rep ratios and the interval: benches/load/stats.py, from the figures as
# printed in the table above.
for i in "${!RPS_A[@]}"; do
    echo "${RPS_A[$i]} ${P50_A[$i]} ${P99_A[$i]} ${CPU_A[$i]} ${RPS_B[$i]} ${P50_B[$i]} ${P99_B[$i]} ${CPU_B[$i]} ${CLEAN[$i]}"
done >"$DATA/reps.txt"
summary=$(python3 "$STATS" summary "$REPS" "$OTHER_MAX" "$DATA/reps.txt") || die "stats.py summary failed"
while IFS= read -r line; do log "$line"; done <<<"$summary"
if (( FAILED )); then
    log "FAILED: some responses were not 2xx (see the non2xx column)"
    exit 1
fi
log "all responses 2xx; results in $OUT"
