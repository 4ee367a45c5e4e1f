"""The ``opskit`` command.

``opskit demo --out DIR``      write the demo dataset as Parquet files
``opskit validate DIR``        check an export against the data contract
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from opskit import demo

    started = time.perf_counter()
    frames = demo.generate_frames(users=args.users, seed=args.seed, start=args.start, days=args.days)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"opskit demo: {args.users:,} users, seed {args.seed}, {args.days} days from {args.start}")
    width = max(len(n) for n in frames)
    for name, frame in frames.items():
        path = out / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        print(f"  {name:<{width}}  {len(frame):>12,} rows  {path.stat().st_size / 1e6:8.2f} MB  {path}")
    print(f"wrote {len(frames)} tables to {out} in {time.perf_counter() - started:.1f} s")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from opskit.io import validate
    from opskit.schema import TABLES

    mapping = None
    if args.mapping:
        import tomllib

        mapping = tomllib.loads(Path(args.mapping).read_text(encoding="utf-8")).get("mapping", {})
    result = validate(args.source, mapping=mapping, timezone=args.timezone)
    print(f"opskit validate: {args.source}")
    by_table: dict[str, list] = {}
    for finding in result.findings:
        by_table.setdefault(finding.table, []).append(finding)
    found = dict.fromkeys([*result.sources, *by_table])
    names = [n for n in TABLES if n in found] + [n for n in found if n not in TABLES]
    summary = result.dataset.summary().set_index("table") if result.dataset else None
    for name in names:
        source = result.sources.get(name, "")
        head = f"\n{source or name}" + (f" -> {name}" if source else "")
        if name in result.rows:
            head += f": {result.rows[name]:,} rows"
        if summary is not None and name in summary.index and summary.loc[name, "first"] is not None:
            first, last = summary.loc[name, "first"], summary.loc[name, "last"]
            if first == first:  # not NaT
                head += f", {first:%Y-%m-%d} .. {last:%Y-%m-%d}"
        print(head)
        findings = by_table.get(name, [])
        if not findings:
            print("  ok")
        for f in findings:
            print(f"  {f.level.upper():<8}{f.column or '-':<18}{f.check}")
            print(f"          {f.describe()}")
    errors, warnings = len(result.errors), len(result.findings) - len(result.errors)
    verdict = "FAILED" if errors else "OK"
    print(f"\n{verdict}: {errors} error(s), {warnings} warning(s) in {len(names)} table(s)")
    return 1 if errors else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opskit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="write the demo dataset as Parquet files")
    demo.add_argument("--out", required=True, help="folder to write events.parquet, users.parquet, ...")
    demo.add_argument("--users", type=int, default=20_000, help="number of users (default 20000)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument("--start", default="2025-01-01", help="first day (default 2025-01-01)")
    demo.add_argument("--days", type=int, default=365, help="number of days (default 365)")
    demo.set_defaults(func=_demo)

    check = sub.add_parser("validate", help="check an export against the data contract")
    check.add_argument("source", help="a folder of exports, a data file or a DuckDB file")
    check.add_argument("--timezone", default="UTC", help="zone of naive timestamps (default UTC)")
    check.add_argument("--mapping", help="a TOML file with [mapping.<table>] column renames")
    check.set_defaults(func=_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (1 when the data has errors)."""
    from opskit.errors import OpskitError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except OpskitError as exc:
        print(f"opskit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
