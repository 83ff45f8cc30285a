"""Print the figures recorded by the benchmarks (one JSON line each) as one markdown table."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fmt(value: float, unit: str) -> str:
    if unit in ("x", ""):
        return f"{value:.3f}".rstrip("0").rstrip(".") + (unit or "")
    if unit == "calls":
        return f"{value:.0f}"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def main(path: str) -> int:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    print("| benchmark | figure | value | target | |")
    print("|---|---|---|---|---|")
    missed = 0
    for row in rows:
        verdict = {True: "ok", False: "MISSED", None: ""}[row["ok"]]
        missed += row["ok"] is False
        print(
            f"| {row['benchmark']} | {row['metric']} | {fmt(row['value'], row['unit'])} "
            f"| {row['target']} | {verdict} |"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
