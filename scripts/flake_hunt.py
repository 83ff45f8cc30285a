"""Run the whole test suite several times under `-n auto` while other processes keep every
CPU busy, and report each test that failed in any run.

    .venv/bin/python scripts/flake_hunt.py --runs 10

A test that fails here only sometimes is a bug in the test or in the code, never something
to rerun: a wait whose deadline is too short for two busy cores, or an order of events
that the test assumed and the event loop does not promise. The hog processes stop when the
runs end (and, whatever happens, after --max-minutes).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"\d+ (passed|failed)")


def _hog(stop_at: float) -> None:
    """Keep one CPU busy until ``stop_at`` (a time.monotonic() value) or until killed."""
    x = 0
    while time.monotonic() < stop_at:
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003


def _failures(report: Path) -> dict[str, str]:
    """The failed or errored tests of one JUnit XML report, each with its first message line."""
    if not report.exists():
        return {"<no report: pytest did not finish>": ""}
    failed: dict[str, str] = {}
    for case in ET.parse(report).iter("testcase"):
        for kind in ("failure", "error"):
            node = case.find(kind)
            if node is not None:
                name = f"{case.get('classname', '')}::{case.get('name', '')}"
                message = (node.get("message") or node.text or "").strip().splitlines()
                failed[name] = message[0][:160] if message else kind
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="how many whole-suite runs")
    parser.add_argument(
        "--hogs", type=int, default=os.cpu_count() or 2, help="busy processes beside the suite"
    )
    parser.add_argument("--max-minutes", type=float, default=120, help="hard stop for the hogs")
    parser.add_argument(
        "--keep",
        type=Path,
        default=ROOT / ".flake-hunt",
        help="where the whole output of each failing run is kept (default .flake-hunt/)",
    )
    parser.add_argument("pytest_args", nargs="*", help="extra arguments for pytest")
    args = parser.parse_args(argv)

    stop_at = time.monotonic() + args.max_minutes * 60
    hogs = [
        multiprocessing.Process(target=_hog, args=(stop_at,), daemon=True) for _ in range(args.hogs)
    ]
    for hog in hogs:
        hog.start()
    seen: Counter[str] = Counter()
    messages: dict[str, str] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="flake-hunt-") as tmp:
            for run in range(1, args.runs + 1):
                report = Path(tmp) / f"run-{run}.xml"
                started = time.monotonic()
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        "-n",
                        "auto",
                        "-p",
                        "no:cacheprovider",
                        f"--junitxml={report}",
                        *args.pytest_args,
                    ],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                failed = _failures(report)
                seconds = time.monotonic() - started
                summary = [line for line in done.stdout.splitlines() if SUMMARY.search(line)]
                tail = summary[-1:] or ["(no summary line)"]
                print(
                    f"run {run}/{args.runs}: exit {done.returncode}, {seconds:.0f} s: {tail[0]}",
                    flush=True,
                )
                if failed:
                    args.keep.mkdir(exist_ok=True)
                    kept = args.keep / f"run-{run}.txt"
                    kept.write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
                    print(f"  whole output: {kept}", flush=True)
                for name, message in failed.items():
                    seen[name] += 1
                    messages.setdefault(name, message)
                    print(f"  FAILED {name}: {message}", flush=True)
    finally:
        for hog in hogs:
            hog.terminate()
        for hog in hogs:
            hog.join()
    if not seen:
        print(f"no test failed in {args.runs} runs with {args.hogs} busy processes beside them")
        return 0
    print(f"\n{len(seen)} test(s) failed at least once in {args.runs} runs:")
    for name, count in seen.most_common():
        print(f"  {count}/{args.runs}  {name}\n        {messages[name]}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
