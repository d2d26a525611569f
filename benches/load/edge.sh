#!/usr/bin/env bash
# The edge's costs, in one run, interleaved rep by rep, all to the same upstream (nginx answering
# a fixed "ok" on three ports):
#   (t1) Gatehouse terminating TLS, HTTP/1.1 keep-alive     (n1) nginx terminating TLS, HTTP/1.1
#   (t2) Gatehouse terminating TLS, HTTP/2                  (n2) nginx terminating TLS, HTTP/2
#   (g1) Gatehouse, plain HTTP, a route to one server       (g3) the same, a group of three
# Gatehouse and nginx use the same certificate (tests/tls/make-certs.sh), one worker each, and a
# `public` route (no session check: run.sh measures that); nginx proxies with keep-alive to the
# upstream as Gatehouse does. TLS runs use h2load (HTTP/1.1 with --h1), the plain ones wrk.
# Prints req/s, mean latency and the proxy's CPU per request for each, and the ratios
# t1/n1, t2/n2 and g3/g1 (median of the per-rep ratios, 95% interval).
#
# Usage: bash benches/load/edge.sh
# Env:   REPS=5 DURATION=3 (seconds) WARMUP=1 CONNECTIONS=32 NO_BUILD=1 BIN=path
# Needs: nginx, wrk, h2load (apt-get install nginx wrk nghttp2-client), openssl, curl, python3.
# Output: stdout and target/load-results/edge-<timestamp>.txt.
set -euo pipefail

REPS=${REPS:-5}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-32}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-$ROOT/target/release/gatehouse}
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=.ci/lib.sh
source "$ROOT/.ci/lib.sh"
# shellcheck source=benches/load/nginx.sh
source "$HERE/nginx.sh"
die_prefix="edge.sh: "

for tool in nginx wrk h2load curl openssl python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ $REPS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ ]] \
    || die "REPS, DURATION and WARMUP are whole numbers (seconds)"
if [[ -z ${NO_BUILD:-} ]]; then
    (cd "$ROOT" && cargo build --release --quiet) || die "release build failed"
fi
[[ -x $BIN ]] || die "no binary at $BIN"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$ROOT/target/load-results"
OUT=$ROOT/target/load-results/edge-$STAMP.txt
log_file=$OUT
DATA=$(mktemp -d -t gatehouse-edge.XXXXXX)
read -r U1 U2 U3 NTLS GTLS GPLAIN M1 M2 <<<"$(free_ports 8 | tr '\n' ' ')"
PIDS=()
remove_on_exit "$DATA" "/tmp/gatehouse-$GTLS.pid" "/tmp/gatehouse-$GTLS.sock" \
    "/tmp/gatehouse-$GPLAIN.pid" "/tmp/gatehouse-$GPLAIN.sock"
stop_all() { stop_pids QUIT "${PIDS[@]:2}"; stop_pids INT "${PIDS[@]:0:2}"; }
on_exit stop_all
trap 'exit 130' INT TERM

bash "$ROOT/tests/tls/make-certs.sh" "$DATA/certs" >/dev/null

# --- Gatehouse: TLS (t) and plain with a single server and a group of three (g) ---
for port in "$GTLS" "$GPLAIN"; do
    common="[server]
listen = \"127.0.0.1:$port\"
threads = 1
[database]
url = \"sqlite://$DATA/gh.db?mode=rwc\"
[log]
level = \"warn\"
[rate_limit]
enabled = false
"
    if [[ $port == "$GTLS" ]]; then
        cat >"$DATA/tls.toml" <<TOML
$common
[server.tls]
certificates = [{ cert = "$DATA/certs/a.pem", key = "$DATA/certs/a.key" }]
[metrics]
listen = "127.0.0.1:$M1"
[[routes]]
prefix = "/"
policy = "public"
upstream = "http://127.0.0.1:$U1"
TOML
    else
        cat >"$DATA/plain.toml" <<TOML
$common
[metrics]
listen = "127.0.0.1:$M2"
[[routes]]
prefix = "/single"
policy = "public"
upstream = "http://127.0.0.1:$U1"
[[routes]]
prefix = "/group"
policy = "public"
upstream = ["http://127.0.0.1:$U1", "http://127.0.0.1:$U2", "http://127.0.0.1:$U3"]
TOML
    fi
done
BETTER_AUTH_SECRET=edge-bench-secret-0123456789abcdef "$BIN" migrate --config "$DATA/plain.toml" >/dev/null
for name in tls plain; do
    BETTER_AUTH_SECRET=edge-bench-secret-0123456789abcdef "$BIN" serve --config "$DATA/$name.toml" \
        >"$DATA/$name.out" 2>&1 &
    PIDS+=($!)
done
GW_TLS=${PIDS[0]}; GW_PLAIN=${PIDS[1]}

# --- nginx: the upstream (three ports) and the TLS-terminating proxy (one worker each) ---
nginx_conf() { # name body
    bench_nginx "$DATA/$1" 1 "$2"
    PIDS+=("$NGINX_PID")
}
nginx_conf upstream "server {
        listen 127.0.0.1:$U1; listen 127.0.0.1:$U2; listen 127.0.0.1:$U3;
        location / { return 200 \"ok\\n\"; }
    }"
nginx_conf proxy "upstream up { server 127.0.0.1:$U1; keepalive 64; }
    server {
        listen 127.0.0.1:$NTLS ssl http2;
        ssl_certificate $DATA/certs/a.pem; ssl_certificate_key $DATA/certs/a.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\";
            proxy_set_header X-Forwarded-For \$remote_addr;
        }
    }"
NGX_PROXY=${PIDS[3]}

ready() {
    http_ok "http://127.0.0.1:$U1/" && http_ok "http://127.0.0.1:$GPLAIN/group/x" \
        && [[ $(curl -s -o /dev/null -w '%{http_code}' --cacert "$DATA/certs/ca.pem" \
            "https://localhost:$GTLS/x") == 200 ]] \
        && [[ $(curl -s -o /dev/null -w '%{http_code}' --cacert "$DATA/certs/ca.pem" \
            "https://localhost:$NTLS/x") == 200 ]]
}
wait_for 30 ready || die "servers did not start: $(cat "$DATA"/*.out "$DATA"/*/start.err 2>/dev/null | head -c 2000)"
for proto in 1.1 2; do
    for port in "$GTLS" "$NTLS"; do
        got=$(curl -s -o /dev/null -w '%{http_version}' "--http$proto" --cacert "$DATA/certs/ca.pem" \
            "https://localhost:$port/x")
        [[ $got == "$proto" || ($proto == 1.1 && $got == 1.1) ]] \
            || die "https://localhost:$port spoke HTTP/$got, not $proto"
    done
done

CLK_TCK=$(getconf CLK_TCK)
ticks() { # pids... -> utime+stime of them and their children threads
    local sum=0 pid
    for pid in "$@" $(for p in "$@"; do pgrep -P "$p"; done); do
        sum=$(( sum + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0) ))
    done
    echo "$sum"
}

# measure <kind> <url> -> "req/s mean_latency_us failures" (kind: h1tls, h2tls, plain)
measure() {
    local kind=$1 url=$2 dur=$3 out
    case $kind in
        plain)
            out=$(timeout $(( dur + 30 )) wrk -t1 -c"$CONNECTIONS" -d"${dur}s" -s "$HERE/summary.lua" "$url") \
                || die "wrk failed against $url"
            read -r reqs dur_us _ _ mean serr sockerr < <(grep '^RESULT ' <<<"$out" | tail -n1 | cut -d' ' -f2-)
            echo "$(python3 -c "print('%.0f' % ($reqs / ($dur_us / 1e6)))") ${mean%.*} $(( serr + sockerr ))"
            ;;
        h1tls | h2tls)
            local flags=()
            [[ $kind == h1tls ]] && flags=(--h1)
            out=$(timeout $(( dur + 30 )) h2load "${flags[@]}" -t1 -c"$CONNECTIONS" -m1 -D "$dur" "$url" 2>&1) \
                || die "h2load failed against $url: $out"
            local rps failed mean
            rps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
            failed=$(sed -n 's/^requests: .* \([0-9]*\) failed, \([0-9]*\) errored.*/\1 \2/p' <<<"$out" | awk '{print $1 + $2}')
            mean=$(awk '/^time for request:/ { print $6 }' <<<"$out")
            [[ -n $rps && -n $failed ]] || die "no figures from h2load: $out"
            case $mean in
                *ms) mean=$(python3 -c "print('%.0f' % (float('${mean%ms}') * 1000))") ;;
                *us) mean=${mean%us} ;;
                *s) mean=$(python3 -c "print('%.0f' % (float('${mean%s}') * 1e6))") ;;
            esac
            echo "${rps%.*} $mean $failed"
            ;;
    esac
}

log "gatehouse edge benchmark  $STAMP"
log "machine: nproc=$(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r)"
log "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)   binary: $BIN"
log "$(nginx -v 2>&1 | sed 's/.*: //'), $(h2load --version | head -n1), wrk; one worker each; $CONNECTIONS connections; $REPS reps of ${DURATION}s (warm-up ${WARMUP}s)"
log ""
printf -v HDR '%-4s %-4s %9s %10s %8s %12s' rep run 'req/s' 'mean(us)' failed 'cpu/req(us)'
log "$HDR"
FAILED=0
declare -A RPS
for rep in $(seq 1 "$REPS"); do
    for run in t1 n1 t2 n2 g1 g3; do
        case $run in
            t1) kind=h1tls; url="https://localhost:$GTLS/x"; pids=("$GW_TLS") ;;
            n1) kind=h1tls; url="https://localhost:$NTLS/x"; pids=("$NGX_PROXY") ;;
            t2) kind=h2tls; url="https://localhost:$GTLS/x"; pids=("$GW_TLS") ;;
            n2) kind=h2tls; url="https://localhost:$NTLS/x"; pids=("$NGX_PROXY") ;;
            g1) kind=plain; url="http://127.0.0.1:$GPLAIN/single/x"; pids=("$GW_PLAIN") ;;
            g3) kind=plain; url="http://127.0.0.1:$GPLAIN/group/x"; pids=("$GW_PLAIN") ;;
        esac
        ((WARMUP == 0)) || measure "$kind" "$url" "$WARMUP" >/dev/null
        c0=$(ticks "${pids[@]}")
        read -r rps mean failed < <(measure "$kind" "$url" "$DURATION")
        c1=$(ticks "${pids[@]}")
        cpu=$(python3 -c "print('%.1f' % (($c1 - $c0) / $CLK_TCK * 1e6 / max(1, $rps * $DURATION)))")
        printf -v row '%-4s %-4s %9s %10s %8s %12s' "$rep" "($run)" "$rps" "$mean" "$failed" "$cpu"
        log "$row"
        ((failed == 0)) || FAILED=1
        RPS[$run,$rep]=$rps
    done
done

log ""
for pair in "t1 n1 Gatehouse/nginx, TLS HTTP/1.1" "t2 n2 Gatehouse/nginx, TLS HTTP/2" \
    "g1 g3 group of three / one server (target >= 0.97)"; do
    read -r mine base name <<<"$pair"
    [[ $mine == g1 ]] && { tmp=$mine; mine=$base; base=$tmp; }
    for rep in $(seq 1 "$REPS"); do echo "${RPS[$base,$rep]} ${RPS[$mine,$rep]}"; done >"$DATA/pair.txt"
    log "$(python3 "$HERE/stats.py" ratios "$name" "$DATA/pair.txt")"
done
if ((FAILED)); then log "FAILED: some requests failed"; exit 1; fi
log "all requests succeeded; results in $OUT"
