#!/usr/bin/env bash
# Instructions per request, counted by valgrind (deterministic, unlike req/s on a shared box):
#   (a) GET /public/bench?quiet  (public)   and   (b) GET /bench?quiet  (required, warm cache)
# Each target runs `gatehouse demo --threads 1` under callgrind twice, with N and with 2N
# keep-alive requests on one connection (after the same WARM requests), so
#   per request = (Ir(2N) - Ir(N)) / N
# leaves out startup, shutdown and the cache miss. Prints Ir/req for (a) and (b), (b)-(a),
# (b)/(a), the in-process echo upstream's share, and the functions whose self and inclusive
# Ir/req differ most between (b) and (a).
#
# Usage: bash benches/load/callgrind.sh   (a release build with line tables; see README.md)
# Env:   BIN=target/release/gatehouse  N=2000  WARM=50  TOP=30  OUT=<dir> (kept, with the .out files)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=.ci/lib.sh
source "$HERE/../../.ci/lib.sh"
die_prefix="callgrind.sh: "
BIN=${BIN:-$HERE/../../target/release/gatehouse}
N=${N:-2000}
WARM=${WARM:-50}
TOP=${TOP:-30}
OUT=${OUT:-$(mktemp -d -t gatehouse-callgrind.XXXXXX)}
[[ -x $BIN ]] || die "no binary at $BIN"
command -v valgrind >/dev/null || die "valgrind is not installed"
mkdir -p "$OUT"

PID=
DATA=
# Not stop_pids: valgrind writes the callgrind file as the process exits, which may take long;
# it is never killed.
stop() {
    if [[ -n $PID ]]; then
        kill -INT "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    PID=
    if [[ -n $DATA ]]; then rm -rf "$DATA"; fi
    DATA=
}
on_exit stop

# measure <label> <path> <requests>: one callgrind run; leaves $OUT/<label>.out
measure() {
    local label=$1 path=$2 requests=$3 port cookie=
    DATA=$(mktemp -d -t gatehouse-cg.XXXXXX)
    port=$(free_port)
    RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$OUT/$label.out" \
        "$BIN" demo --data-dir "$DATA" --listen "127.0.0.1:$port" --threads 1 \
        >"$DATA/stdout" 2>"$OUT/$label.valgrind.log" &
    PID=$!
    demo_up() { # the demo printed its cookie and the gateway answers
        cookie=$(sed -n "s/.*'Cookie: \([^']*\)'.*/\1/p" "$DATA/stdout" | head -n1)
        [[ -n $cookie ]] && http_answers "http://127.0.0.1:$port/public/ready"
    }
    wait_for 120 demo_up || true   # up to 120 s: startup under valgrind is slow
    [[ -n $cookie ]] || die "the demo did not start"
    python3 - "$port" "$path" "$cookie" "$WARM" "$requests" <<'EOF'
import http.client, sys
port, path, cookie, warm, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
conn = http.client.HTTPConnection("127.0.0.1", int(port))
for _ in range(warm + n):
    conn.request("GET", path, headers={"Cookie": cookie})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"{path}: status {r.status}")
EOF
    stop
}

total() { sed -n 's/^summary: //p' "$OUT/$1.out"; }

# Ir per function (inclusive=yes|no), one "count<TAB>function" line each, without file paths
per_function() {
    callgrind_annotate --inclusive="$2" --threshold=100 --auto=no "$OUT/$1.out" \
        | awk '/^ *[0-9,]+ / { c = $1; gsub(",", "", c); $1 = ""; sub(/^ +(\([^)]*\) +)?/, "");
               sub(/^[^:]*:/, ""); sub(/ \[[^]]*\]$/, ""); print c "\t" $0 }' >"$OUT/$1.$2"
}

for target in a b; do
    if [[ $target == a ]]; then path="/public/bench?quiet"; else path="/bench?quiet"; fi
    measure "$target-1" "$path" "$N"
    measure "$target-2" "$path" $(( 2 * N ))
    for run in "$target-1" "$target-2"; do per_function "$run" yes; per_function "$run" no; done
done

python3 - "$OUT" "$N" "$TOP" "$(total a-1)" "$(total a-2)" "$(total b-1)" "$(total b-2)" <<'EOF'
import sys
out, n, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
a1, a2, b1, b2 = (int(x) for x in sys.argv[4:8])
ra, rb = (a2 - a1) / n, (b2 - b1) / n
print(f"Ir per request, N={n} (difference of N and 2N runs)")
print(f"  (a) public          {ra:10.0f}")
print(f"  (b) required, warm  {rb:10.0f}")
print(f"  (b)-(a)             {rb - ra:10.0f}    (b)/(a) = {rb / ra:.3f}")

def per_request(label, kind):
    def load(run):
        d = {}
        for line in open(f"{out}/{label}-{run}.{kind}"):
            c, name = line.rstrip("\n").split("\t", 1)
            d[name] = d.get(name, 0) + int(c) if kind == "no" else max(d.get(name, 0), int(c))
        return d
    one, two = load(1), load(2)
    return {k: (two.get(k, 0) - one.get(k, 0)) / n for k in one.keys() | two.keys()}

# The demo's echo upstream runs in the same process; its connection handler is Pingora's
# generic ServeHttp one (the gateway's is HttpProxy's).
ECHO = "pingora_core::apps::http_app::<impl pingora_core::apps::HttpServerApp for SV>::process_new_http::{{closure}}"
ea, eb = per_request("a", "yes").get(ECHO, 0), per_request("b", "yes").get(ECHO, 0)
print(f"  of which the in-process echo upstream: (a) {ea:.0f}, (b) {eb:.0f}")
print(f"  gateway alone (total minus that handler): (a) {ra - ea:.0f}, (b) {rb - eb:.0f}, (b)/(a) = {(rb - eb) / (ra - ea):.3f}")

# Inclusive rows above half of (b) are the runtime's frames around everything; left out.
for kind, title in (("no", "self"), ("yes", "inclusive")):
    fa, fb = per_request("a", kind), per_request("b", kind)
    rows = [(fb.get(k, 0) - fa.get(k, 0), k) for k in fa.keys() | fb.keys()
            if kind == "no" or abs(fb.get(k, 0)) < rb / 2]
    rows.sort(key=lambda t: -abs(t[0]))
    print(f"\nIr/req {title}, top {top} differences:\n{'(b)-(a)':>9} {'(a)':>9} {'(b)':>9}  function")
    for d, k in rows[:top]:
        print(f"{d:9.0f} {fa.get(k, 0):9.0f} {fb.get(k, 0):9.0f}  {k[:140]}")
print(f"\ncallgrind files in {out}")
EOF
