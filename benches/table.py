#!/usr/bin/env python3
"""Reads the harnesses' output and prints one table: language x case with p50, p99 and
throughput, then each target of the benchmark issue marked met or MISSED.

    table.py [RESULTS...] [--require LANG:CASE,...] [--criterion DIR]

RESULTS are files of harness output (default: stdin). Lines other than BENCH, MIX, SWAPS and
ALLOC lines (the last from `portcullis-instructions`, heap allocations per decision) are
ignored, but a line that starts with one of those words and is not well-formed is an error.
Exit status: 0; 1 when a line is malformed, a required case is missing, an evaluation failed
(MIX failed > 0), or the same single-threaded workload made different decisions in two runs;
2 for bad arguments. A missed target is reported, never an error: timings depend on the machine.
"""
import json
import re
import sys
from pathlib import Path

BENCH = re.compile(r"^BENCH lang=(rust|c|node|go|dotnet) case=([a-z0-9-]+) n=(\d+) p50=(\d+) p90=(\d+) "
                   r"p99=(\d+) p999=(\d+) ops_per_s=(\d+)$")
MIX = re.compile(r"^MIX lang=([a-z]+) case=([a-z0-9-]+) allow=(\d+) deny=(\d+) rate_limited=(\d+) approval=(\d+) "
                 r"unknown_agent=(\d+) failed=(\d+)$")
ALLOC = re.compile(r"^ALLOC mode=([a-z0-9-]+) decisions=(\d+) allocations=(\d+) per_decision=([0-9.]+)$")
SWAPS = re.compile(r"^SWAPS lang=([a-z]+) case=([a-z0-9-]+) swaps=(\d+) wall_ms=(\d+) failed=(\d+)$")
LANG_ORDER = ["rust", "c", "node", "go", "dotnet"]
WORKLOAD_ORDER = ["ref", "1k", "10k", "subset", "cedar"]


def fmt_ns(ns):
    if ns is None:
        return "-"
    return f"{ns} ns" if ns < 1000 else f"{ns / 1000:.2f} µs"


def parse(lines):
    bench, mixes, swaps, allocs, errors = {}, {}, {}, {}, []
    for number, line in lines:
        line = line.rstrip("\n")
        if line.startswith("BENCH"):
            m = BENCH.match(line)
            if not m:
                errors.append(f"malformed BENCH line {number}: {line}")
                continue
            lang, case = m.group(1), m.group(2)
            n, p50, p90, p99, p999, ops = (int(x) for x in m.groups()[2:])
            if not (n > 0 and p50 <= p90 <= p99 <= p999 and ops > 0):
                errors.append(f"implausible BENCH line {number}: {line}")
            bench[(lang, case)] = {"n": n, "p50": p50, "p90": p90, "p99": p99, "p999": p999, "ops": ops}
        elif line.startswith("SWAPS"):
            m = SWAPS.match(line)
            if not m:
                errors.append(f"malformed SWAPS line {number}: {line}")
                continue
            swaps[(m.group(1), m.group(2))] = {"swaps": int(m.group(3)), "wall_ms": int(m.group(4)),
                                               "failed": int(m.group(5))}
        elif line.startswith("ALLOC"):
            m = ALLOC.match(line)
            if not m:
                errors.append(f"malformed ALLOC line {number}: {line}")
                continue
            allocs[m.group(1)] = float(m.group(4))
        elif line.startswith("MIX"):
            m = MIX.match(line)
            if not m:
                errors.append(f"malformed MIX line {number}: {line}")
                continue
            keys = ["allow", "deny", "rate_limited", "approval", "unknown_agent", "failed"]
            mixes[(m.group(1), m.group(2))] = dict(zip(keys, (int(x) for x in m.groups()[2:])))
    return bench, mixes, swaps, allocs, errors


def targets(bench, mixes, swaps, allocs, criterion):
    """(met: bool | None, target, evidence) for each target of the performance issue; None = not
    measured. `allocs`: mode -> heap allocations per decision; `criterion`: id -> mean ns."""
    def get(lang, case, key):
        return bench.get((lang, case), {}).get(key)

    out = []

    def check(target, value, limit, evidence, higher_is_better=False):
        if value is None:
            out.append((None, target, "not measured"))
            return
        ok = value >= limit if higher_is_better else value <= limit
        out.append((ok, target, evidence))

    p50, p99 = get("rust", "ref-json", "p50"), get("rust", "ref-json", "p99")
    check("core full decision from JSON, p50 <= 600 ns", p50, 600, f"rust ref-json p50 {fmt_ns(p50)}")
    check("core full decision from JSON, p99 <= 1.2 µs", p99, 1200, f"rust ref-json p99 {fmt_ns(p99)}")
    verdict = get("rust", "ref-json-verdict", "p50")
    check("core verdict from JSON, p50 <= 300 ns", verdict, 300, f"rust ref-json-verdict p50 {fmt_ns(verdict)}")
    p99k = get("rust", "10k-value", "p99")
    check("10,000-rule policy p99 <= 2 µs", p99k, 2000, f"rust 10k-value p99 {fmt_ns(p99k)}")
    node = get("node", "ref-object", "p50")
    check("Node evaluate(object) p50 <= 1.5 µs", node, 1500, f"node ref-object p50 {fmt_ns(node)}")
    core_json = get("rust", "ref-json", "p50")
    for lang, case, label, limit in (("go", "ref-struct", "Go Evaluate(Action)", 300),
                                     ("dotnet", "ref-toolcall", ".NET Evaluate(ToolCall)", 1000)):
        theirs = get(lang, case, "p50")
        gap = None if theirs is None or core_json is None else theirs - core_json
        check(f"{label} p50 <= core + {fmt_ns(limit)}", gap, limit,
              f"{lang} {case} p50 {fmt_ns(theirs)} vs rust ref-json {fmt_ns(core_json)}: +{fmt_ns(gap)}"
              if gap is not None else "")
    swap_ns = criterion.get("policy/swap/ref")
    check("update with the unchanged reference policy <= 200 µs", swap_ns, 200_000,
          f"criterion policy/swap/ref mean {fmt_ns(round(swap_ns))}" if swap_ns is not None else "")
    swap_p99, calm_p99 = get("rust", "ref-threads2-swap", "p99"), get("rust", "ref-threads2", "p99")
    swap = swaps.get(("rust", "ref-threads2-swap"))
    every = None if not swap or not swap["swaps"] else swap["wall_ms"] / swap["swaps"]
    check("swaps really every 1 ms during 2-thread evaluation", every, 1.1,
          f"{swap['swaps']} swaps in {swap['wall_ms']} ms: one every {every:.2f} ms" if every is not None
          else ("no swap during the run" if swap else ""))
    swap_mix = mixes.get(("rust", "ref-threads2-swap"))
    if swap_mix is None:
        out.append((None, "a swap every ms fails no evaluation", "not measured"))
    else:
        out.append((swap_mix["failed"] == 0, "a swap every ms fails no evaluation",
                    f"{swap_mix['failed']} failed evaluations"))
    growth = None if swap_p99 is None or not calm_p99 else swap_p99 / calm_p99
    check("p99 with swaps <= 1.5x p99 without", growth, 1.5,
          f"p99 {fmt_ns(swap_p99)} with swaps, {fmt_ns(calm_p99)} without: {growth:.2f}x" if growth else "")
    one, two = get("rust", "ref-threads1", "ops"), get("rust", "ref-threads2", "ops")
    ratio = None if not one or two is None else two / one
    check("2 threads >= 1.9x the throughput of 1", ratio, 1.9,
          f"{two:,} vs {one:,} ops/s: {ratio:.2f}x" if ratio is not None else "", higher_is_better=True)
    per_verdict = allocs.get("verdict")
    check("0 heap allocations per verdict from JSON text", per_verdict, 0.0,
          f"{per_verdict:.2f} allocations per verdict (reference actions)" if per_verdict is not None else "")
    ours, cedar = get("rust", "subset-value", "p50"), get("rust", "cedar-subset", "p50")
    speedup = None if not ours or cedar is None else cedar / ours
    verdict_subset = get("rust", "subset-verdict", "p50")
    also = f" (verdict only: {cedar / verdict_subset:.1f}x)" if verdict_subset and cedar is not None else ""
    check("full decision >= 150x faster than Cedar on the shared subset (p50)", speedup, 150.0,
          f"cedar {fmt_ns(cedar)} / portcullis {fmt_ns(ours)} = {speedup:.1f}x{also}" if speedup else "",
          higher_is_better=True)
    return out


def consistency(mixes):
    """Runs of the same single-threaded workload replay the same actions on the same clock:
    every language and input mode must make the same decisions."""
    groups = {}
    for (lang, case), mix in mixes.items():
        workload = case.split("-")[0]
        if "threads" in case or case.startswith(("subset", "cedar")):
            continue
        groups.setdefault(workload, []).append((f"{lang} {case}", mix))
    problems, notes = [], []
    for workload, runs in sorted(groups.items()):
        first_name, first = runs[0]
        same = [name for name, mix in runs if mix == first]
        if len(same) == len(runs):
            notes.append(f"{workload}: {len(runs)} runs made the same decisions "
                         + " ".join(f"{k}={v}" for k, v in first.items()))
        else:
            for name, mix in runs:
                if mix != first:
                    problems.append(f"{workload}: {name} decided {mix}, {first_name} {first}")
    return problems, notes


def criterion_rows(root):
    rows = []
    for est in sorted(Path(root).glob("**/new/estimates.json")):
        bench_json = est.parent / "benchmark.json"
        try:
            ident = json.loads(bench_json.read_text())["full_id"]
            mean = json.loads(est.read_text())["mean"]["point_estimate"]
        except (OSError, KeyError, ValueError):
            continue
        rows.append((ident, mean))
    return rows


def main(argv):
    paths, require, criterion = [], [], None
    it = iter(argv)
    for arg in it:
        if arg == "--require":
            require = [tuple(x.split(":", 1)) for x in next(it, "").split(",") if x]
        elif arg == "--criterion":
            criterion = next(it, None)
        elif arg.startswith("-"):
            print(__doc__, file=sys.stderr)
            return 2
        else:
            paths.append(arg)
    lines = []
    if paths:
        for p in paths:
            lines += [(f"{p}:{i}", l) for i, l in enumerate(Path(p).read_text(encoding="utf-8").splitlines(), 1)]
    else:
        lines = [(str(i), l) for i, l in enumerate(sys.stdin, 1)]
    bench, mixes, swaps, allocs, errors = parse(lines)
    for lang, case in require:
        if (lang, case) not in bench:
            errors.append(f"missing BENCH line for lang={lang} case={case}")
        if (lang, case) not in mixes:
            errors.append(f"missing MIX line for lang={lang} case={case}")
    for (lang, case), mix in sorted(mixes.items()):
        if mix["failed"]:
            errors.append(f"{lang} {case}: {mix['failed']} evaluations failed")
    problems, notes = consistency(mixes)
    errors += problems
    if not bench:
        errors.append("no BENCH lines")

    order = {lang: i for i, lang in enumerate(LANG_ORDER)}
    print(f"{'lang':<7} {'case':<24} {'n':>8} {'p50':>10} {'p99':>10} {'p99.9':>10} {'ops/s':>12}")
    def row_key(item):
        (lang, case), _ = item
        workload = case.split("-")[0]
        rank = WORKLOAD_ORDER.index(workload) if workload in WORKLOAD_ORDER else len(WORKLOAD_ORDER)
        return (order.get(lang, len(order)), rank, case)

    for (lang, case), b in sorted(bench.items(), key=row_key):
        print(f"{lang:<7} {case:<24} {b['n']:>8} {fmt_ns(b['p50']):>10} {fmt_ns(b['p99']):>10} "
              f"{fmt_ns(b['p999']):>10} {b['ops']:>12,}")
    rows = criterion_rows(criterion) if criterion else []
    if rows:
        print("\ncriterion (mean time per iteration)")
        for ident, mean in rows:
            print(f"  {ident:<44} {fmt_ns(round(mean)):>12}")
    print("\ntargets")
    for (lang, case), swap in sorted(swaps.items()):
        if swap["failed"]:
            errors.append(f"{lang} {case}: {swap['failed']} policy swaps failed")
    for ok, target, evidence in targets(bench, mixes, swaps, allocs, dict(rows)):
        mark = "n/a" if ok is None else ("met" if ok else "MISSED")
        print(f"  {mark:<7} {target:<68} {evidence}")
    if notes:
        print("\ndecisions")
        for n in notes:
            print(f"  {n}")
    for e in errors:
        print(f"ERROR {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
