"""Print the figures recorded by the benchmarks (one JSON line each) as one markdown table."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
from datetime import date
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- latest:begin -->", "<!-- latest:end -->"


def fmt(value: float, unit: str) -> str:
    if unit in ("x", ""):
        return f"{value:.3f}".rstrip("0").rstrip(".") + (unit or "")
    if unit == "calls":
        return f"{value:.0f}"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| benchmark | figure | value | target | |", "|---|---|---|---|---|"]
    for row in rows:
        verdict = {True: "ok", False: "MISSED", None: ""}[row["ok"]]
        lines.append(
            f"| {row['benchmark']} | {row['metric']} | "
            f"{fmt(row['value'], row['unit'])} | {row['target']} | {verdict} |"
        )
    return lines


def update_readme(readme: Path, lines: list[str], mode: str) -> None:
    """Put the table between the latest-table markers of ``readme``."""
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: the markers {BEGIN} and {END} are missing")
    how = "benchmarks/run" + (" --quick" if mode == "quick" else "")
    header = (
        f"Measured {date.today().isoformat()} with `{how}` on {os.cpu_count()} CPUs "
        f"({platform.machine()}, Python {platform.python_version()})."
    )
    block = "\n".join([BEGIN, header, "", *lines, END])
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    readme.write_text(pattern.sub(lambda _: block, text, count=1), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("results", type=Path, help="the JSON lines the benchmarks recorded")
    parser.add_argument("--readme", type=Path, help="also write the table into this README")
    parser.add_argument("--mode", choices=["full", "quick"], default="full")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    lines = table(rows)
    print("\n".join(lines))
    if args.readme is not None:
        update_readme(args.readme, lines, args.mode)
        print(f"\n(written to {args.readme})")
    return 1 if any(row["ok"] is False for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
