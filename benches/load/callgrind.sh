#!/usr/bin/env bash
# Instructions per request, counted by valgrind (deterministic, unlike req/s on a shared box), for
#   (p) the bare Pingora pass-through (bare_pingora.rs)     (a) Gatehouse, a public route
#   (b) Gatehouse, a required route, warm cache            (s) (b) with the signed identity
#                                                               assertion, warm token cache
# every one proxying to the same upstream (nginx answering "ok", outside valgrind). Each target
# runs under callgrind twice, with N and with 2N keep-alive requests on one connection (after
# the same WARM requests), so  per request = (Ir(2N) - Ir(N)) / N  leaves out startup, shutdown
# and the first cache misses. Prints Ir/req per target, the differences the issues set targets
# on, and for each pair of PAIRS the functions whose self and inclusive Ir/req differ most.
#
# Usage: bash benches/load/callgrind.sh   (release binaries with line tables; see README.md)
# Env:   BIN=target/release/gatehouse  BARE=target/release/examples/bare_pingora
#        TARGETS="p a b s"  PAIRS="a-p b-a s-b"  N=2000  WARM=50  TOP=25  LOG_LEVEL=warn
#        OUT=<dir> (kept, with the .out files)
#        HEADERS=browser: every request also carries the ten headers a desktop Chrome sends on a
#        navigation (the default sends Host, Accept-Encoding and Cookie only)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=.ci/lib.sh
source "$ROOT/.ci/lib.sh"
# shellcheck source=benches/load/nginx.sh
source "$HERE/nginx.sh"
die_prefix="callgrind.sh: "
BIN=${BIN:-$ROOT/target/release/gatehouse}
BARE=${BARE:-$ROOT/target/release/examples/bare_pingora}
TARGETS=${TARGETS:-p a b s}
PAIRS=${PAIRS:-a-p b-a s-b}
N=${N:-2000}
WARM=${WARM:-50}
TOP=${TOP:-25}
# warn: no access line; info (Gatehouse's default) adds it.
LOG_LEVEL=${LOG_LEVEL:-warn}
HEADERS=${HEADERS:-}
[[ -z $HEADERS || $HEADERS == browser ]] || die "HEADERS is empty or browser, not $HEADERS"
OUT=${OUT:-$(mktemp -d -t gatehouse-callgrind.XXXXXX)}
[[ -x $BIN && -x $BARE ]] || die "no binaries at $BIN and $BARE"
for tool in valgrind callgrind_annotate nginx python3 curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
mkdir -p "$OUT"

DATA=$(mktemp -d -t gatehouse-cg.XXXXXX)
read -r UP PORT OPS <<<"$(free_ports 3 | tr '\n' ' ')"
SECRET=callgrind-bench-secret-0123456789abcdef
PID=
UP_PID=
remove_on_exit "$DATA" "/tmp/gatehouse-$PORT.pid" "/tmp/gatehouse-$PORT.sock" \
    "/tmp/bare-pingora-$PORT.pid" "/tmp/bare-pingora-$PORT.sock"
# Not stop_pids for the measured process: valgrind writes the callgrind file as the process
# exits, which may take long; it is never killed.
stop() {
    if [[ -n $PID ]]; then
        kill -INT "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    PID=
}
stop_all() { stop; stop_pids QUIT "$UP_PID"; }
on_exit stop_all
trap 'exit 130' INT TERM

bench_nginx "$DATA/nginx" 1 "server { listen 127.0.0.1:$UP; location / { return 200 \"ok\\n\"; } }"
UP_PID=$NGINX_PID

"$BIN" migrate --database-url "sqlite://$DATA/gatehouse.db" >/dev/null || die "migrate failed"
python3 "$HERE/seed.py" sqlite "$DATA/gatehouse.db" "$SECRET" 1 warm "$DATA/warm.cookies"
COOKIE=$(cat "$DATA/warm.cookies")
cat >"$DATA/gatehouse.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
threads = 1
[database]
url = "sqlite://$DATA/gatehouse.db"
[metrics]
listen = "127.0.0.1:$OPS"
[log]
level = "$LOG_LEVEL"
[proxy]
upstream = "http://127.0.0.1:$UP"
[identity_assertion]
enabled = true
key_dir = "$DATA/keys"
[[routes]]
prefix = "/pub"
policy = "public"
[[routes]]
prefix = "/sig"
assertion_audience = "bench"
TOML

path_of() {
    case $1 in
        # Paths of one length: the path's own cost is the same for every target.
        p | b) echo /req/bench ;;
        a) echo /pub/bench ;;
        s) echo /sig/bench ;;
        *) die "unknown target $1" ;;
    esac
}

# measure <target> <run> <requests>: one callgrind run; leaves $OUT/<target>-<run>.out
measure() {
    local target=$1 run=$2 requests=$3 path
    path=$(path_of "$target")
    local cmd=("$BIN" serve --config "$DATA/gatehouse.toml")
    if [[ $target == p ]]; then cmd=("$BARE" "127.0.0.1:$PORT" "127.0.0.1:$UP" 1); fi
    BETTER_AUTH_SECRET=$SECRET valgrind --tool=callgrind \
        --callgrind-out-file="$OUT/$target-$run.out" "${cmd[@]}" \
        >"$OUT/$target-$run.log" 2>&1 &
    PID=$!
    # Up to 120 s: startup under valgrind is slow.
    wait_for --pid "$PID" 120 http_answers "http://127.0.0.1:$PORT/pub/ready" \
        || die "($target) did not start: $(tail -c 1000 "$OUT/$target-$run.log")"
    python3 - "$PORT" "$path" "$COOKIE" "$WARM" "$requests" "$HEADERS" <<'EOF'
import http.client, sys
port, path, cookie, warm, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
headers = {"Cookie": cookie}
if sys.argv[6] == "browser":
    headers.update({
        "sec-ch-ua": '"Chromium";v="131", "Not_A Brand";v="24"',
        "sec-ch-ua-mobile": "?0",
        "sec-ch-ua-platform": '"Linux"',
        "Upgrade-Insecure-Requests": "1",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/131.0.0.0 Safari/537.36",
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
                  "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
        "Accept-Language": "en-GB,en;q=0.9",
    })
conn = http.client.HTTPConnection("127.0.0.1", int(port))
for _ in range(warm + n):
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"{path}: status {r.status}")
EOF
    stop
}

# Ir per function (inclusive=yes|no), one "count<TAB>function" line each, without file paths
per_function() {
    callgrind_annotate --inclusive="$2" --threshold=100 --auto=no "$OUT/$1.out" \
        | awk '/^ *[0-9,]+ / { c = $1; gsub(",", "", c); $1 = ""; sub(/^ +(\([^)]*\) +)?/, "");
               sub(/^[^:]*:/, ""); sub(/ \[[^]]*\]$/, ""); print c "\t" $0 }' >"$OUT/$1.$2"
}

for target in $TARGETS; do
    measure "$target" 1 "$N"
    measure "$target" 2 $(( 2 * N ))
    for run in 1 2; do
        sed -n 's/^summary: //p' "$OUT/$target-$run.out" >"$OUT/$target-$run.total"
        per_function "$target-$run" yes
        per_function "$target-$run" no
    done
done

python3 - "$OUT" "$N" "$TOP" "$TARGETS" "$PAIRS" <<'EOF'
import sys
out, n, top, targets, pairs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(), sys.argv[5].split()
NAMES = {"p": "bare Pingora", "a": "Gatehouse public", "b": "required, warm", "s": "required + assertion"}
total = lambda t, run: int(open(f"{out}/{t}-{run}.total").read())
ir = {t: (total(t, 2) - total(t, 1)) / n for t in targets}
print(f"Ir per request, N={n} (difference of N and 2N runs)")
for t in targets:
    print(f"  ({t}) {NAMES[t]:<22} {ir[t]:10.0f}")
for pair in pairs:
    x, y = pair.split("-")
    if x in ir and y in ir:
        print(f"  ({x})-({y}) {ir[x] - ir[y]:10.0f}    ({x})/({y}) = {ir[x] / ir[y]:.3f}")

def per_request(t, kind):
    def load(run):
        d = {}
        for line in open(f"{out}/{t}-{run}.{kind}"):
            c, name = line.rstrip("\n").split("\t", 1)
            d[name] = d.get(name, 0) + int(c) if kind == "no" else max(d.get(name, 0), int(c))
        return d
    one, two = load(1), load(2)
    return {k: (two.get(k, 0) - one.get(k, 0)) / n for k in one.keys() | two.keys()}

# Inclusive rows above half of the larger total are the runtime's frames around everything.
for pair in pairs:
    x, y = pair.split("-")
    if x not in ir or y not in ir:
        continue
    for kind, title in (("no", "self"), ("yes", "inclusive")):
        fx, fy = per_request(x, kind), per_request(y, kind)
        rows = [(fx.get(k, 0) - fy.get(k, 0), k) for k in fx.keys() | fy.keys()
                if kind == "no" or abs(fx.get(k, 0)) < max(ir[x], ir[y]) / 2]
        rows.sort(key=lambda t: -abs(t[0]))
        print(f"\nIr/req {title}, top {top} differences ({x})-({y}):\n{'diff':>9} {'('+y+')':>9} {'('+x+')':>9}  function")
        for d, k in rows[:top]:
            print(f"{d:9.0f} {fy.get(k, 0):9.0f} {fx.get(k, 0):9.0f}  {k[:140]}")
print(f"\ncallgrind files in {out}")
EOF
