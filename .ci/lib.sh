# shellcheck shell=bash
# .ci/lib.sh: the shell helpers Gatehouse's scripts share (.ci/*, benches/*/*.sh,
# tests/browser/run.sh, tests/fixtures/tls/make-test-certs.sh). Source it, do not run it:
#
#   # shellcheck source-path=SCRIPTDIR/..      (the way up from the script to the repository)
#   # shellcheck source=.ci/lib.sh
#   source "$ROOT/.ci/lib.sh"
#
#   die MESSAGE...          prints "${die_prefix}MESSAGE" on stderr and exits 1
#   log MESSAGE...          prints "${log_prefix}MESSAGE" on stdout, and appends that line to
#                           $log_file when it is set
#   free_port               prints a loopback TCP port nothing listens on now: the kernel picks
#                           it (python3; without python3, a port nothing answers on, probed
#                           with bash's /dev/tcp). The window before the caller binds it again
#                           is the only race.
#   free_ports N            N such ports, different ones, space-separated (bound together,
#                           then released)
#   wait_for [--pid PID]... SECONDS COMMAND...
#                           runs COMMAND every 0.1 s until it succeeds (returns 0); returns 1
#                           once SECONDS have passed, 2 as soon as a --pid PID has exited
#   http_answers URL        true when something answers HTTP at URL, whatever the status
#   http_ok URL             true when GET URL answers 200
#   stop_pids SIGNAL PID... sends SIGNAL to each PID (empty ones are skipped), gives each 5 s
#                           to exit, then SIGKILL; reaps them
#   on_exit COMMAND         runs COMMAND (with eval) when the script exits, the last one
#                           registered first. $? is the script's exit status when COMMAND
#                           starts, errexit does not stop it, and the script exits with that
#                           status afterwards unless COMMAND exits with one of its own (the
#                           remaining commands are then skipped). Installs the EXIT trap:
#                           scripts keep their own INT and TERM traps (`trap 'exit 130' INT TERM`).
#   remove_on_exit PATH...  on_exit `rm -rf` of those paths (a temporary directory, say)
#
# Settings, read when the helper runs: die_prefix, log_prefix and log_file (unset: none).

die() {
  echo "${die_prefix-}$*" >&2
  exit 1
}

log() {
  if [[ -n ${log_file-} ]]; then
    echo "${log_prefix-}$*" | tee -a "$log_file"
  else
    echo "${log_prefix-}$*"
  fi
}

free_port() { free_ports 1; }

free_ports() {
  local n=$1
  if command -v python3 >/dev/null; then
    python3 - "$n" <<'PY'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
    return
  fi
  local ports=() p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 40000))
    [[ " ${ports[*]} " != *" $p "* ]] || continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      ports+=("$p")
      if ((${#ports[@]} == n)); then
        echo "${ports[*]}"
        return
      fi
    fi
  done
  die "no free port found"
}

# Microseconds since the epoch (EPOCHREALTIME's separator depends on the locale).
_lib_now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }

wait_for() {
  local pids=() pid deadline
  while [[ ${1-} == --pid ]]; do
    pids+=("$2")
    shift 2
  done
  deadline=$(($(_lib_now_us) + $1 * 1000000))
  shift
  until "$@"; do
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || return 2
    done
    (($(_lib_now_us) < deadline)) || return 1
    sleep 0.1
  done
}

http_answers() { curl -s -o /dev/null --max-time 5 "$1"; }

http_ok() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1") == 200 ]]; }

stop_pids() {
  local signal=$1 pid i
  shift
  for pid in "$@"; do
    [[ -z $pid ]] || kill -"$signal" "$pid" 2>/dev/null || true
  done
  for pid in "$@"; do
    [[ -n $pid ]] || continue
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

_lib_exit_commands=()

on_exit() {
  ((${#_lib_exit_commands[@]})) || trap _lib_on_exit EXIT
  _lib_exit_commands=("$1" "${_lib_exit_commands[@]}")
}

remove_on_exit() {
  local quoted
  printf -v quoted ' %q' "$@"
  on_exit "rm -rf --$quoted"
}

_lib_status() { return "$1"; }

_lib_on_exit() {
  local _lib_rc=$? _lib_command
  trap - EXIT
  for _lib_command in "${_lib_exit_commands[@]}"; do
    # Either branch starts with $? = the exit status, which the command then sees.
    if _lib_status "$_lib_rc"; then
      eval "$_lib_command" || true
    else
      eval "$_lib_command" || true
    fi
  done
  exit "$_lib_rc"
}
