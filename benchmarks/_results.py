"""One line per measured figure, so `benchmarks/run` can print every benchmark in one table.

A benchmark calls `record(...)` for each figure; when the environment variable
`BENCH_RESULTS` names a file, the figure is appended to it as one JSON line.
"""

from __future__ import annotations

import json
import os
from typing import Any


def record(
    benchmark: str,
    metric: str,
    value: float,
    unit: str,
    *,
    target: str = "",
    ok: bool | None = None,
) -> None:
    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    row: dict[str, Any] = {
        "benchmark": benchmark,
        "metric": metric,
        "value": value,
        "unit": unit,
        "target": target,
        "ok": ok,
    }
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
