#!/usr/bin/env python3
"""Instructions per decision under callgrind, compared with a committed baseline.

    instructions.py BINARY [--record] [--baseline FILE] [--n N]

For each mode (json: full decision from JSON text; value: full decision from a parsed value;
verdict: effect/code/rule from JSON text) the binary runs twice under
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

MODES = ("json", "value", "verdict")
TOLERANCE = 0.10
HERE = os.path.dirname(os.path.abspath(__file__))


def collected(binary, mode, n):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
               binary, "--mode", mode, "--n", str(n)]
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
    for mode in MODES:
        base, _ = collected(args.binary, mode, 0)
        total, allocs = collected(args.binary, mode, args.n)
        measured[mode] = {"instructions": round((total - base) / args.n),
                          "allocations": allocs}

    if args.record:
        with open(args.baseline, "w") as f:
            json.dump(measured, f, indent=2, sort_keys=True)
            f.write("\n")
    with open(args.baseline) as f:
        baseline = json.load(f)

    failed = 0
    print(f"{'mode':<8} {'instr/decision':>15} {'baseline':>10} {'change':>8} {'allocs/decision':>16}")
    for mode in MODES:
        now, was = measured[mode]["instructions"], baseline[mode]["instructions"]
        change = (now - was) / was
        verdict = "REGRESSION" if change > TOLERANCE else "ok"
        failed += verdict != "ok"
        print(f"{mode:<8} {now:>15} {was:>10} {change:>+8.1%} {measured[mode]['allocations']:>16} {verdict}")
    if failed:
        print(f"{failed} mode(s) cost more than {TOLERANCE:.0%} over benches/instructions-baseline.json")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
