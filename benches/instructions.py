#!/usr/bin/env python3
"""Instructions per decision under callgrind, compared with a committed baseline.

    instructions.py BINARY [--record] [--baseline FILE] [--n N]

For each mode (json: full decision from JSON text; value: full decision from a parsed value;
verdict: effect/code/rule from JSON text, all on the reference policy; 10k-json: full decision
from JSON text on the 10,000-rule scale policy of benches/generate.py, whose 2,000 tenant rules
on common tools are guarded by `context.tenant eq`; swap: one `update_policy` of the unchanged
reference policy under another version, per "decision") the binary runs twice under
`valgrind --tool=callgrind`: with `--n 0` (load the policy, replay 1,000 actions once) and
with `--n N`. The difference of the two instruction totals, divided by N, is the cost of one
decision; it repeats exactly for the same binary and inputs, whatever else the machine does.
Exits 1 when a mode costs more than 10% over the baseline (a regression to explain, or to
record with --record when it is intended), or when the binary fails.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

# mode name -> (the binary's --mode, the scale policy's rule count or None for the reference,
# the count N to measure or None for --n)
MODES = {
    "json": ("json", None, None),
    "value": ("value", None, None),
    "verdict": ("verdict", None, None),
    "10k-json": ("json", 10000, None),
    # A swap costs a few hundred decisions: fewer of them keep the run short.
    "swap": ("swap", None, 50),
}
TOLERANCE = 0.10
HERE = os.path.dirname(os.path.abspath(__file__))


def collected(binary, mode, n, policy):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
               binary, "--mode", mode, "--n", str(n)]
        if policy:
            cmd += ["--policy", policy]
        run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({run.returncode}):\n{run.stderr}")
    found = re.search(r"Collected : (\d+)", run.stderr)
    if not found:
        sys.exit(f"no instruction total in callgrind's output:\n{run.stderr}")
    alloc = re.search(r"per_decision=([0-9.]+)", run.stdout)
    return int(found.group(1)), (float(alloc.group(1)) if alloc else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--record", action="store_true", help="write the measured values as the baseline")
    ap.add_argument("--baseline", default=os.path.join(HERE, "instructions-baseline.json"))
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()

    measured = {}
    with tempfile.TemporaryDirectory() as policies:
        for name, (mode, rules, count) in MODES.items():
            n = count or args.n
            policy = None
            if rules:
                policy = os.path.join(policies, f"policy-{rules}.json")
                if not os.path.exists(policy):
                    subprocess.run([sys.executable, os.path.join(HERE, "generate.py"), "scale",
                                    str(rules), policy], check=True)
            base, _ = collected(args.binary, mode, 0, policy)
            total, allocs = collected(args.binary, mode, n, policy)
            measured[name] = {"instructions": round((total - base) / n),
                              "allocations": allocs}

    if args.record:
        with open(args.baseline, "w") as f:
            json.dump(measured, f, indent=2, sort_keys=True)
            f.write("\n")
    with open(args.baseline) as f:
        baseline = json.load(f)

    failed = 0
    print(f"{'mode':<9} {'instr/decision':>15} {'baseline':>10} {'change':>8} {'allocs/decision':>16}")
    for mode in MODES:
        if mode not in baseline:
            print(f"{mode:<9} {measured[mode]['instructions']:>15} {'-':>10} {'':>8} "
                  f"{measured[mode]['allocations']:>16} no baseline (record one)")
            failed += 1
            continue
        now, was = measured[mode]["instructions"], baseline[mode]["instructions"]
        change = (now - was) / was
        verdict = "REGRESSION" if change > TOLERANCE else "ok"
        failed += verdict != "ok"
        print(f"{mode:<9} {now:>15} {was:>10} {change:>+8.1%} {measured[mode]['allocations']:>16} {verdict}")
    if failed:
        print(f"{failed} mode(s) cost more than {TOLERANCE:.0%} over benches/instructions-baseline.json or have no baseline")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
