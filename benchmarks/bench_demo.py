"""Time :func:`opskit.demo.generate_frames` at growing sizes and print the row counts.

Usage::

    python benchmarks/bench_demo.py                   # 20k, 200k and 1M users
    python benchmarks/bench_demo.py --max-users 200000
    python benchmarks/bench_demo.py --sizes 5000 50000 --repeat 3

Each size runs ``--repeat`` times and reports the fastest wall time. The peak
resident memory is the process's high-water mark so far (Linux/macOS only).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

from opskit.demo import generate_frames

TABLES = ("users", "events", "touchpoints", "conversions", "spend", "subscriptions",
          "opportunities", "tickets", "targets")


def peak_rss_gb() -> float | None:
    """High-water mark of resident memory in GB, if the platform reports it."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1e9 if sys.platform == "darwin" else 1e6)


def run(users: int, repeat: int, seed: int) -> tuple[float, dict[str, int]]:
    """Fastest wall time over ``repeat`` runs and the row count of every table."""
    best, rows = float("inf"), {}
    for _ in range(repeat):
        gc.collect()
        began = time.perf_counter()
        frames = generate_frames(users=users, seed=seed)
        best = min(best, time.perf_counter() - began)
        rows = {name: len(frames[name]) for name in TABLES}
        del frames
    return best, rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000, 1_000_000],
                        help="numbers of users to generate")
    parser.add_argument("--max-users", type=int, default=None, help="skip sizes above this")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (fastest is shown)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sizes = [n for n in args.sizes if args.max_users is None or n <= args.max_users]
    header = f"{'users':>10} {'seconds':>8} {'peak GB':>8} " + " ".join(f"{t:>13}" for t in TABLES)
    print(header)
    for users in sizes:
        seconds, rows = run(users, args.repeat, args.seed)
        peak = peak_rss_gb()
        peak_text = f"{peak:8.2f}" if peak is not None else f"{'-':>8}"
        print(f"{users:>10,} {seconds:8.2f} {peak_text} "
              + " ".join(f"{rows[t]:>13,}" for t in TABLES), flush=True)


if __name__ == "__main__":
    main()
