#!/usr/bin/env python3
"""The arithmetic and statistics of benches/load/run.sh (standard library only).

    stats.py run REQUESTS DURATION_US GATEWAY_TICKS CLK_TCK BUSY_TICKS OURS_TICKS WRK_TICKS TOTAL_TICKS SWITCHES
        One measured wrk run: prints "req/s cpu/req(us) other% switches".
          req/s       REQUESTS over DURATION_US, no decimals
          cpu/req     GATEWAY_TICKS (clock ticks of CPU the gateway process used, CLK_TCK a
                      second) per request, in microseconds, one decimal (0.0 without requests)
          other%      busy CPU not spent in the gateway and upstream (OURS_TICKS) or wrk
                      (WRK_TICKS), as a percentage of all CPU time (TOTAL_TICKS), no decimals,
                      at least 0
          switches    SWITCHES (context switches of the gateway's threads) per request, two
                      decimals

    stats.py compare OTHER_MAX FILE
        The summary run.sh prints after its reps. FILE has one line per measured run:
          rep target rps p50 p99 cpu switches clean
        (the values as run.sh printed them; clean is 0 when other% was above OTHER_MAX). Prints
        each target's medians, then each comparison of COMPARISONS whose two targets were
        measured: the median of the per-rep ratios with a distribution-free 95% interval, every
        rep's ratio (* marks a noisy rep), and the ratio over the clean reps when some were noisy.

    stats.py ratios NAME FILE
        One comparison of benches/load/edge.sh. FILE has one line per rep: "base other" (two
        req/s figures measured next to each other). Prints NAME, the median of the per-rep
        other/base ratios with its 95% interval, and every rep's ratio.

A median or ratio computed from another figure uses that figure as printed.
"""

import sys


def median(values):
    """The median of decimal strings, as a string: the middle value as given, or the mean of
    the two middle ones with %g."""
    v = sorted(values, key=lambda s: (float(s), s))
    n = len(v)
    if n % 2:
        return v[(n + 1) // 2 - 1]
    return "%g" % ((float(v[n // 2 - 1]) + float(v[n // 2])) / 2)


def ratio(x, y):
    """x / y of two decimal strings with %.3f; 0.000 unless y > 0."""
    x, y = float(x), float(y)
    return "%.3f" % (x / y if y > 0 else 0)


def median_ci(values):
    """A distribution-free 95% interval for the median of `values`, as (low, high) strings, or
    None below 6 values: the k-th smallest and the k-th largest value, with k the largest rank
    such that P(Binomial(n, 1/2) < k) <= 0.025 (n = 15 gives the 4th and the 12th of 15, 96.5%
    coverage)."""
    v = sorted(values, key=lambda s: (float(s), s))
    n = len(v)
    p = 0.5**n  # P(X = i), from i = 0
    cdf = 0.0
    k = 0
    for i in range(n):
        cdf += p
        if cdf > 0.025:
            break
        k = i + 1
        p = p * (n - i) / (i + 1)
    if k < 1:
        return None
    return v[k - 1], v[n - k]


def run(args):
    reqs, dur_us, gw, clk_tck, busy, ours, wrk, total, switches = (int(a) for a in args)
    rps = "%.0f" % (reqs / (dur_us / 1e6))
    cpu = "%.1f" % (gw / clk_tck * 1e6 / reqs if reqs > 0 else 0)
    other = 100 * (busy - ours - wrk) / total if total > 0 else 0
    per_request = "%.2f" % (switches / reqs if reqs > 0 else 0)
    print(rps, cpu, "%.0f" % (0 if other < 0 else other), per_request)


NAMES = {
    "n": "nginx proxy_pass",
    "p": "bare Pingora",
    "a": "Gatehouse public",
    "b": "Gatehouse required, warm",
    "cs": "required, cold, SQLite",
    "cp": "required, cold, PostgreSQL",
    "s": "required + assertion",
}

# (numerator, denominator, column, what it means and the target)
COMPARISONS = [
    ("a", "p", "cpu", "Gatehouse public / bare Pingora, CPU per request (target <= 1.15)"),
    ("b", "a", "cpu", "required warm / public, CPU per request (target <= 1.05)"),
    ("b", "n", "rps", "Gatehouse required warm / nginx, req/s (target >= 0.5)"),
    ("p", "n", "rps", "bare Pingora / nginx, req/s (Pingora's own limit)"),
    ("a", "p", "rps", "Gatehouse public / bare Pingora, req/s"),
    ("b", "a", "rps", "required warm / public, req/s"),
    ("cs", "b", "rps", "cold SQLite / warm, req/s (target >= 0.5)"),
    ("cp", "b", "rps", "cold PostgreSQL / warm, req/s (target >= 0.5)"),
    ("s", "b", "rps", "with the identity assertion / without, req/s (issue 14: >= 0.98)"),
    ("s", "b", "cpu", "with the identity assertion / without, CPU per request"),
]


def compare(other_max, path):
    runs = {}  # target -> [(rep, rps, p50, p99, cpu, switches, clean)]
    for line in open(path):
        if line.strip():
            rep, target, rps, p50, p99, cpu, switches, clean = line.split()
            runs.setdefault(target, []).append((rep, rps, p50, p99, cpu, switches, int(clean)))
    out = [
        "",
        f"medians                        {'req/s':>9} {'p50(us)':>9} {'p99(us)':>9} {'cpu/req(us)':>12}"
        f" {'switches':>9}",
    ]
    for target, rows in runs.items():
        cols = [median([r[i] for r in rows]) for i in (1, 2, 3, 4, 5)]
        out.append("%-30s %9s %9s %9s %12s %9s" % (f"({target}) {NAMES.get(target, '')}"[:30], *cols))
    out.append("")
    for num, den, column, name in COMPARISONS:
        if num not in runs or den not in runs:
            continue
        i = 1 if column == "rps" else 4
        pairs = list(zip(runs[num], runs[den]))
        per_rep = [ratio(x[i], y[i]) for x, y in pairs]
        clean = [x[6] and y[6] for x, y in pairs]
        line = f"({num})/({den}) {name}: {median(per_rep)}"
        ci = median_ci(per_rep)
        if ci:
            line += f"   (95% interval {ci[0]} - {ci[1]})"
        out.append(line)
        out.append("    per rep: " + " ".join(r + ("" if c else "*") for r, c in zip(per_rep, clean)))
        if not all(clean):
            kept = [r for r, c in zip(per_rep, clean) if c]
            out.append(
                f"    over the {len(kept)} clean rep(s): {median(kept)}"
                if kept
                else f"    every rep had other% > {other_max}: rerun on a quiet machine"
            )
    out.append(
        "cpu/req: CPU of the proxy's processes per request; switches: their context switches per"
        " request; other%: CPU used by other programs"
    )
    print("\n".join(out))


def ratios(name, path):
    rows = [line.split() for line in open(path) if line.strip()]
    per_rep = [ratio(other, base) for base, other in rows]
    line = f"{name}: {median(per_rep)}"
    ci = median_ci(per_rep)
    if ci:
        line += f"   (95% interval {ci[0]} - {ci[1]})"
    print(line + f"   per rep: {' '.join(per_rep)}")


if __name__ == "__main__":
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "run" and len(args) == 9:
        run(args)
    elif command == "compare" and len(args) == 2:
        compare(*args)
    elif command == "ratios" and len(args) == 2:
        ratios(*args)
    else:
        sys.exit(__doc__)
