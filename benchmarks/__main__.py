"""`python -m benchmarks [NAME ...] [--quick]`: run benchmarks, one figure a line.

Figures go to standard output as `name value unit`; notes and progress go to
standard error. The exit status is non-zero only when a benchmark crashes.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from . import candidates, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (all if none)")
    parser.add_argument("--quick", action="store_true", help="small runs, a smoke test")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    known = candidates()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(known)})")
    if args.list:
        for name in known:
            print(name)
        return 0

    failed: list[str] = []
    for name in args.names or known:
        started = time.perf_counter()
        try:
            run = load(name)
            if run is None:
                if args.names:
                    raise LookupError(f"benchmarks.{name} defines no run(quick) function")
                continue
            print(f"# {name}", file=sys.stderr, flush=True)
            for figure in run(args.quick):
                print(figure.line(), flush=True)
        except Exception:
            failed.append(name)
            traceback.print_exc()
        elapsed = time.perf_counter() - started
        print(f"# {name}: {elapsed:.1f} s", file=sys.stderr, flush=True)
    if failed:
        print(f"# crashed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
