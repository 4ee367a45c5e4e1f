"""The ``opskit`` command.

``opskit demo --out DIR``      write the demo dataset as Parquet files
``opskit validate DIR``        check an export against the data contract
``opskit report list``         the report templates and their parameters
``opskit report run TEMPLATE --data DIR --out DIR``   render a report to offline HTML
``opskit report batch SCHEDULE.toml --out DIR``       render every report of a schedule, with an index

Exit status: 0 success; 1 the data has errors, a report failed, or a batch job did not
render; 2 a usage error, or a batch schedule refused before anything ran.
"""

from __future__ import annotations

import argparse
import logging
import os
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


def _report_list(args: argparse.Namespace) -> int:
    from opskit.report import TemplateError, find_template
    from opskit.report.templates import template_dirs, template_paths

    paths = template_paths()
    folders = ", ".join(str(d) for d in template_dirs()) or "no template folder"
    if not paths:
        print(f"opskit report: no templates found (searched {folders})")
        return 0
    broken = 0
    for name, path in paths.items():
        try:
            shown = os.path.relpath(path)
        except ValueError:  # another drive (Windows)
            shown = str(path)
        if shown.startswith(".."):
            shown = str(path)
        print(f"{name}  ({shown})")
        try:
            template = find_template(path)
        except TemplateError as exc:
            broken += 1
            print(f"  error: {exc}")
            continue
        if not template.parameters:
            print("  (no parameters cell)")
            continue
        rows = [(p.name, str(p.type), p.default_text, p.help) for p in template.parameters.values()]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            cells = "  ".join(f"{row[i]:<{widths[i]}}" for i in range(3))
            print(f"  {cells}  {row[3]}".rstrip())
        print()
    return 1 if broken else 0


def _report_params(args: argparse.Namespace) -> dict[str, object]:
    from opskit.report import ParameterError

    params: dict[str, object] = {}
    problems = []
    for name, value in args.param or []:
        if name in params:
            problems.append(f"parameter {name!r} is given twice with -p")
        params[name] = value
    for name, value, flag in (("data", args.data, "--data"), ("lang", args.lang, "--lang")):
        if value is None:
            continue
        if name in params:
            problems.append(f"parameter {name!r} is given both with {flag} and with -p")
        if name == "data" and "://" not in value:
            path = Path(value).expanduser()
            if not path.exists():
                problems.append(f"--data {value!r} does not exist. Fix: pass the folder of your export")
            value = str(path.resolve())
        params[name] = value
    if problems:
        raise ParameterError(Path(args.template).stem, problems)
    return params


def _report_run(args: argparse.Namespace) -> int:
    from opskit.report import run

    if args.verbose:
        logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    params = _report_params(args)
    try:
        report = run(args.template, params, args.out, format=args.format,
                     timeout=args.timeout, progress=False if args.quiet else None, log_output=args.verbose)
    except KeyboardInterrupt:
        print("opskit: interrupted; the previous report, if any, is unchanged", file=sys.stderr)
        return 130
    for path in report.paths:
        print(path)
    if not args.quiet:
        print(f"opskit report: {report.template} rendered in {report.seconds:.1f} s", file=sys.stderr)
    return 0


def _report_batch(args: argparse.Namespace) -> int:
    import signal

    from opskit.report.batch import run_batch
    from opskit.report.schedule import ScheduleError

    def stop(signum, frame):  # cron, systemd and Airflow stop a task with SIGTERM
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    echo = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        result = run_batch(args.schedule, args.out, jobs=args.jobs, timeout=args.timeout, keep=args.keep,
                           on_failure=args.on_failure, echo=echo)
    except ScheduleError as exc:
        print(f"opskit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("opskit: interrupted; running jobs were killed, the run's status.json and the index say so, "
              "latest/ keeps the previous reports", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    failed = [j for j in result.jobs if j.status != "ok"]
    if failed:
        listed = ", ".join(f"{j.name} ({j.status})" for j in failed)
        print(f"opskit report batch: {len(failed)} of {len(result.jobs)} reports did not render: {listed}; "
              f"see {result.status_path}", file=sys.stderr)
    elif not args.quiet:
        print(f"opskit report batch: {len(result.jobs)} reports rendered; index: "
              f"{result.folder.parent / 'index.html'}", file=sys.stderr)
    if result.hook and result.hook.get("error"):
        print(f"opskit report batch: the --on-failure command failed: {result.hook['error']}",
              file=sys.stderr)
    sys.stderr.flush()
    print(result.status_path)  # last, so it is the last line even when stderr is merged into stdout
    return result.exit_code


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or more, not {text}")
    return value


_BATCH_EPILOG = """exit status:
  0  every report rendered
  1  at least one report failed, timed out or was skipped (see OUT/<run id>/status.json)
  2  the schedule was refused (every problem is listed) or an option is invalid: nothing ran
  130  interrupted (Ctrl-C or SIGTERM): running jobs were killed, status.json says so

output: OUT/<run id>/<name>.html and status.json per run, OUT/latest/<name>.html (newest success),
OUT/index.html (every report and the run history). Prints the path of status.json on stdout.
"""


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

    from opskit.report.run import DEFAULT_TIMEOUT

    report = sub.add_parser("report", help="render report templates to offline HTML")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    listing = report_sub.add_parser("list", help="the templates and their parameters")
    listing.set_defaults(func=_report_list)
    render = report_sub.add_parser(
        "run", help="execute a template and write OUT/<template>.html",
        description="Execute a template with papermill and write OUT/<template>.html (one offline file). "
                    "Parameters are checked against the template's declared types before anything runs.")
    render.add_argument("template", help="template name (see `opskit report list`) or path to an .ipynb")
    render.add_argument("--data", help="the dataset: sets the template's `data` parameter")
    render.add_argument("--out", required=True, help="output folder (created when missing)")
    render.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="a template parameter; VALUE is converted to the declared type (repeatable)")
    render.add_argument("--lang", choices=["en", "zh"], help="report language: sets the `lang` parameter")
    render.add_argument("--format", choices=["html", "ipynb", "both"], default="html",
                        help="html (default), the executed ipynb, or both")
    render.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"per-cell execution limit, 0 for none (default {DEFAULT_TIMEOUT:g})")
    noise = render.add_mutually_exclusive_group()
    noise.add_argument("--quiet", action="store_true", help="no progress bar, print only the paths written")
    noise.add_argument("--verbose", action="store_true", help="log every cell's output while it runs")
    render.set_defaults(func=_report_run)

    from opskit.report.batch import DEFAULT_JOB_TIMEOUT

    batch = report_sub.add_parser(
        "batch", help="render every report of a schedule into OUT, with an index page",
        description="Render every report of a TOML (or YAML) schedule, each in its own process and kernel, "
                    "into a new run folder OUT/<run id>/; copy the successes to OUT/latest/ and rewrite "
                    "OUT/index.html. The whole schedule is checked before anything runs.",
        epilog=_BATCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    batch.add_argument("schedule", help="the schedule: [defaults] and [[reports]] (name, template, params)")
    batch.add_argument("--out", required=True, help="output folder (created when missing)")
    batch.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                       help="reports rendered at the same time (default: the number of cores, "
                            f"{os.cpu_count()})")
    batch.add_argument("--timeout", type=_seconds, default=DEFAULT_JOB_TIMEOUT, metavar="SECONDS",
                       help=f"wall-clock limit of each report, 0 for none (default {DEFAULT_JOB_TIMEOUT:g}); "
                            "a report's own `timeout` in the schedule wins")
    batch.add_argument("--keep", type=_positive_int, default=10, metavar="N",
                       help="run folders kept in OUT (default 10); older ones are removed, "
                            "never a running one")
    batch.add_argument("--on-failure", metavar="COMMAND",
                       help="run COMMAND when a report did not render; it gets the status.json path as its "
                            "last argument and in $OPSKIT_STATUS")
    batch.add_argument("--quiet", action="store_true",
                       help="no line per report; failures are still reported on stderr")
    batch.set_defaults(func=_report_batch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see the module docstring)."""
    from opskit.errors import OpskitError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except OpskitError as exc:
        print(f"opskit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
