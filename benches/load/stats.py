#!/usr/bin/env python3
"""The arithmetic and statistics of benches/load/run.sh (standard library only).

    stats.py run REQUESTS DURATION_US GATEWAY_TICKS CLK_TCK BUSY_TICKS OURS_TICKS WRK_TICKS TOTAL_TICKS
        One measured wrk run: prints "req/s cpu/req(us) other%".
          req/s       REQUESTS over DURATION_US, no decimals
          cpu/req     GATEWAY_TICKS (clock ticks of CPU the gateway process used, CLK_TCK a
                      second) per request, in microseconds, one decimal (0.0 without requests)
          other%      busy CPU not spent in the gateway and upstream (OURS_TICKS) or wrk
                      (WRK_TICKS), as a percentage of all CPU time (TOTAL_TICKS), no decimals,
                      at least 0

    stats.py summary REPS OTHER_MAX FILE
        The summary run.sh prints after its reps. FILE has one line per rep:
          rps_a p50_a p99_a cpu_a rps_b p50_b p99_b cpu_b clean
        (the values as run.sh printed them in its table; clean is 1, or 0 when other% of one
        of the rep's runs was above OTHER_MAX). Prints the medians of (a) and (b), the median
        of the per-rep (b)/(a) req/s ratios with a distribution-free 95% interval for it, the
        ratio of the medians, every rep's ratio, the ratio over the clean reps when some were
        noisy, and the ratio of the cpu/req medians.

    stats.py ratios NAME FILE
        One comparison of benches/load/edge.sh. FILE has one line per rep: "base other" (two
        req/s figures measured next to each other). Prints NAME, the median of the per-rep
        other/base ratios with its 95% interval, and every rep's ratio.

Figures are formatted as C's printf does (%g, %.3f, ...), and a median or ratio computed from
another figure uses that figure as printed, so the output is exactly what the awk code it
replaced printed.
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
    reqs, dur_us, gw, clk_tck, busy, ours, wrk, total = (int(a) for a in args)
    rps = "%.0f" % (reqs / (dur_us / 1e6))
    cpu = "%.1f" % (gw / clk_tck * 1e6 / reqs if reqs > 0 else 0)
    other = 100 * (busy - ours - wrk) / total if total > 0 else 0
    print(rps, cpu, "%.0f" % (0 if other < 0 else other))


def summary(reps, other_max, path):
    rows = [line.split() for line in open(path) if line.strip()]
    rps_a, p50_a, p99_a, cpu_a, rps_b, p50_b, p99_b, cpu_b, clean = (
        [row[i] for row in rows] for i in range(9)
    )
    out = []
    mra, mrb = median(rps_a), median(rps_b)
    rep_ratios = [ratio(b, a) for a, b in zip(rps_a, rps_b)]
    per_rep = " ".join(r + ("" if int(c) else "*") for r, c in zip(rep_ratios, clean))
    clean_a = [a for a, c in zip(rps_a, clean) if int(c)]
    clean_b = [b for b, c in zip(rps_b, clean) if int(c)]

    out.append("")
    out.append(f"medians of {reps} reps        req/s    p50(us)    p99(us)  cpu/req(us)")
    out.append(
        "(a) public            %8s %10s %10s %12s" % (mra, median(p50_a), median(p99_a), median(cpu_a))
    )
    out.append(
        "(b) required, warm    %8s %10s %10s %12s" % (mrb, median(p50_b), median(p99_b), median(cpu_b))
    )
    out.append("")
    out.append(f"(b)/(a) req/s, median of the per-rep ratios: {median(rep_ratios)}   (target >= 0.9)")
    ci = median_ci(rep_ratios)
    if ci:
        out.append(f"  95% interval for that median (order statistics of the {reps} reps): {ci[0]} - {ci[1]}")
    out.append(f"  ratio of medians: {ratio(mrb, mra)}   per rep: {per_rep}")
    if len(clean_a) < int(reps):
        if clean_a:
            clean_ratio = ratio(median(clean_b), median(clean_a))
            out.append(
                f"  over the {len(clean_a)} clean rep(s) only: {clean_ratio}   (* = rep with other% > {other_max})"
            )
        else:
            out.append(
                f"  every rep had other% > {other_max}: other programs were using the CPUs; rerun on a quiet machine"
            )
    out.append(f"(b)/(a) gateway cpu/req, ratio of medians: {ratio(median(cpu_b), median(cpu_a))}")
    out.append(
        "cpu/req = gateway process CPU per request (with UPSTREAM=echo, the echo's too);"
        " other% = CPU used by other programs"
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
    if command == "run" and len(args) == 8:
        run(args)
    elif command == "summary" and len(args) == 3:
        summary(*args)
    elif command == "ratios" and len(args) == 2:
        ratios(*args)
    else:
        sys.exit(__doc__)
