#!/usr/bin/env bash
# tests/browser/run.sh: the sessions dashboard in a real browser.
#
# Creates a fresh PostgreSQL database, starts a real Better Auth server (tests/interop), a small
# upstream app and `gatehouse serve` in front of both, then runs dashboard.mjs (playwright-core
# driving Debian's Chromium) against the dashboard at <gateway>/_gatehouse/. Everything it
# started is stopped and the database dropped on exit. The last line is `N passed, M failed`;
# the exit code is non-zero when anything failed.
#
# Environment:
#   GATEHOUSE_BIN                the gateway binary (default target/debug/gatehouse; not built here)
#   GATEHOUSE_TEST_POSTGRES_URL  an admin URL to create the database from
#                                (default postgres://postgres@127.0.0.1:5432/postgres, trust auth)
#   CHROMIUM                     the browser (default /usr/bin/chromium, installed with apt-get
#                                when missing)
#   KEEP_LOGS=1                  print the servers' logs even when everything passed
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=.ci/lib.sh
source "$repo/.ci/lib.sh"
log_prefix="run.sh: "
bin=${GATEHOUSE_BIN:-$repo/target/debug/gatehouse}
chromium=${CHROMIUM:-/usr/bin/chromium}
pg_admin=${GATEHOUSE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
secret="browser-test-secret-$(date +%s)-$RANDOM$RANDOM"
db_name="gatehouse_browser_$$_${RANDOM}"
db_url="${pg_admin%/*}/$db_name"

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-browser.XXXXXX")
pids=()
db_created=""
passed=0
failed=0
started=$SECONDS

show_logs() {
  local f
  for f in "$work"/*.log; do
    [[ -s "$f" ]] || continue
    echo "---- last lines of $(basename "$f") ----"
    tail -n 40 "$f"
  done
}

finish() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  stop_pids TERM "${pids[@]}"
  pids=()
  if [[ -n "$db_created" ]]; then
    timeout 20 psql "$pg_admin" -XAtq -c "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" >/dev/null 2>&1 \
      || log "could not drop database $db_name"
  fi
  if [[ -s "$work/dashboard.out" ]] && ((passed + failed == 0)); then
    passed=$(grep -c '^PASS ' "$work/dashboard.out" || true)
    failed=$(grep -c '^FAIL ' "$work/dashboard.out" || true)
  fi
  if ((rc != 0 && failed == 0)); then
    echo "FAIL run.sh: exited with status $rc"
    failed=$((failed + 1))
  fi
  if ((failed > 0)) || [[ -n "${KEEP_LOGS:-}" ]]; then show_logs; fi
  rm -rf "$work"
  echo "browser tests took $((SECONDS - started)) s"
  echo "$passed passed, $failed failed"
  ((failed == 0)) || exit 1
  exit 0
}
on_exit finish
trap 'exit 130' INT
trap 'exit 143' TERM

# Fails the run at set-up: one failure, named.
setup_fail() {
  echo "FAIL set-up: $*"
  failed=$((failed + 1))
  exit 1
}

# The port of file $1's `READY <port>` line; fails while there is none.
ready_port() {
  local line
  line=$(grep -m1 '^READY [0-9]*$' "$1" 2>/dev/null) || return 1
  echo "${line#READY }"
}

# ---- 1. tools: node packages, Chromium, the gateway binary, PostgreSQL ----
{ command -v node && command -v npm; } >/dev/null || setup_fail "node and npm are needed"
command -v curl >/dev/null || setup_fail "curl is needed"
command -v psql >/dev/null || setup_fail "psql is needed (Debian: postgresql-client)"
if [[ ! -d "$here/node_modules/playwright-core" ]]; then
  log "installing tests/browser node packages (npm ci)"
  timeout 300 npm ci --prefix "$here" --no-audit --no-fund >"$work/npm-browser.log" 2>&1 \
    || { cat "$work/npm-browser.log"; setup_fail "npm ci in tests/browser failed"; }
fi
if [[ ! -d "$repo/tests/interop/node_modules/better-auth" ]]; then
  log "installing tests/interop node packages (npm ci)"
  timeout 300 npm ci --prefix "$repo/tests/interop" --no-audit --no-fund >"$work/npm-interop.log" 2>&1 \
    || { cat "$work/npm-interop.log"; setup_fail "npm ci in tests/interop failed"; }
fi
if [[ ! -x "$chromium" && "$chromium" == /usr/bin/chromium ]]; then
  log "installing Debian's chromium (apt-get)"
  ((EUID == 0)) || setup_fail "/usr/bin/chromium is missing and this is not root: apt-get install chromium"
  {
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -qq && timeout 900 apt-get install -y -qq chromium
  } >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log"; setup_fail "apt-get install chromium failed"; }
fi
[[ -x "$chromium" ]] || setup_fail "no browser at $chromium"
[[ -x "$bin" ]] || setup_fail "no gateway binary at $bin (cargo build first, or set GATEHOUSE_BIN)"
timeout 10 psql "$pg_admin" -XAtq -c 'select 1' >/dev/null 2>&1 \
  || setup_fail "PostgreSQL does not answer at $pg_admin (start it, or set GATEHOUSE_TEST_POSTGRES_URL)"

# ---- 2. database, Better Auth, upstream, gateway ----
timeout 20 psql "$pg_admin" -XAtq -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db_name\"" >/dev/null \
  || setup_fail "could not create database $db_name"
db_created=1

read -r gw_port metrics_port < <(free_ports 2) || setup_fail "no free ports"
[[ -n "${metrics_port:-}" ]] || setup_fail "no free ports"
gateway="http://127.0.0.1:$gw_port"

# Better Auth's public URL is the gateway's, as in a real deployment; it creates the schema.
(
  cd "$repo/tests/interop"
  exec env -u NODE_ENV DATABASE_URL="$db_url" BETTER_AUTH_SECRET="$secret" BETTER_AUTH_URL="$gateway" \
    BA_MIGRATE=1 PORT=0 node server.mjs
) >"$work/better-auth.out" 2>"$work/better-auth.log" </dev/null &
pids+=($!)
ba_port=$(wait_for --pid "${pids[-1]}" 60 ready_port "$work/better-auth.out") || setup_fail "Better Auth did not print READY within 60 s"

PORT=0 node "$here/upstream.mjs" >"$work/upstream.out" 2>"$work/upstream.log" </dev/null &
pids+=($!)
up_port=$(wait_for --pid "${pids[-1]}" 20 ready_port "$work/upstream.out") || setup_fail "the upstream did not print READY within 20 s"

cat >"$work/gatehouse.toml" <<EOF
[server]
grace_period = 1
graceful_shutdown_timeout = 1

[better_auth]
upstream = "http://127.0.0.1:$ba_port"
# The upstream's own origin, for the cross-origin get-session step.
trusted_origins = ["http://127.0.0.1:$up_port"]

[admin]
allow_seeding = true

[rate_limit]
max = 1000

[geo]
provider = "mmdb"
mmdb_path = "$repo/tests/fixtures/geo/test-city.mmdb"
EOF

env -u DATABASE_URL -u GATEHOUSE_CONFIG -u GATEHOUSE_ADMIN_TOKEN -u GATEHOUSE_GEO_TOKEN -u NODE_ENV \
  RUST_LOG=info BETTER_AUTH_SECRET="$secret" BETTER_AUTH_URL="$gateway" \
  GATEHOUSE_DATABASE_URL="$db_url" GATEHOUSE_LISTEN="127.0.0.1:$gw_port" \
  GATEHOUSE_METRICS_LISTEN="127.0.0.1:$metrics_port" GATEHOUSE_UPSTREAM="http://127.0.0.1:$up_port" \
  "$bin" serve --config "$work/gatehouse.toml" >"$work/gateway.log" 2>&1 </dev/null &
pids+=($!)
wait_for --pid "${pids[-1]}" 30 http_ok "http://127.0.0.1:$metrics_port/readyz" \
  || setup_fail "the gateway was not ready within 30 s"
wait_for --pid "${pids[-1]}" 10 http_ok "$gateway/_gatehouse/" \
  || setup_fail "the gateway does not serve the dashboard at $gateway/_gatehouse/"
log "ready in $((SECONDS - started)) s: gateway $gateway, Better Auth :$ba_port, upstream :$up_port, database $db_name"

# ---- 3. the browser test ----
# In the background, waited for, so that INT and TERM reach the trap at once (bash runs traps
# only after a foreground command ends); its output is shown as it comes.
: >"$work/dashboard.out"
GATEWAY_URL="$gateway" UPSTREAM_PORT="$up_port" DATABASE_URL="$db_url" CHROMIUM="$chromium" SCREENSHOTS="$here/screenshots" \
  timeout 200 node "$here/dashboard.mjs" >"$work/dashboard.out" 2>&1 </dev/null &
test_pid=$!
pids=("$test_pid" "${pids[@]}")
tail -n +1 -f --pid="$test_pid" "$work/dashboard.out" &
tail_pid=$!
test_rc=0
wait "$test_pid" || test_rc=$?
wait "$tail_pid" 2>/dev/null || true
passed=$(grep -c '^PASS ' "$work/dashboard.out" || true)
failed=$(grep -c '^FAIL ' "$work/dashboard.out" || true)
if ((test_rc != 0 && failed == 0)); then
  echo "FAIL dashboard.mjs: exited with status $test_rc$( ((test_rc == 124)) && echo ' (timed out)')"
  failed=1
fi
((failed == 0))
