"""Explorer benchmark (not a test): headless Pilot against an embedded app of 100,000 inputs.

    .venv/bin/python benchmarks/explorer_bench.py            # 100,000 inputs
    .venv/bin/python benchmarks/explorer_bench.py --quick    # 10,000 inputs

Measures, in one process (the TUI and its embedded backend, as a user runs it):
- first page painted, from pressing `5` (open the Explorer) until its rows are on screen;
- page-down latency (p50/p95 over N presses; the explorer pre-fetches the next page);
- annotation-status filter (SUCCESS, then PENDING) answered and painted;
- resident memory (RSS) of the process at the end.

The data is bulk-inserted straight into the embedded store's SQLite file (benchmark only: the
app itself only ever writes through the API).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402
from textual.pilot import Pilot  # noqa: E402
from textual.widgets import DataTable  # noqa: E402

from api.local.backend import LocalBackend  # noqa: E402
from api.models import AnnotationStatus, InputStatus  # noqa: E402
from benchmarks._results import record  # noqa: E402
from screens.explorer import ExplorerScreen  # noqa: E402
from tui.app import ClarifaiTUI  # noqa: E402
from tui.config import load_config  # noqa: E402

APP = "bench"
CONCEPTS = [f"concept-{n}" for n in range(10)]
TARGETS = {"first page": 1000.0, "page-down p95": 100.0, "filter": 300.0, "rss": 300.0}


async def build(data_dir: Path, count: int) -> None:
    """`count` inputs, ~1.3 annotations each (mostly SUCCESS, some PENDING/REVIEW_DENIED)."""
    backend = LocalBackend(data_dir, owner="bench")
    await backend.start()
    try:
        store = backend.store
        from api.local.rows import AppPatch

        (app,) = store.create_apps(backend.user_id, [AppPatch(id=APP, name=APP)])
        sha = store.put_blob(b"\x89PNG fake bytes: the explorer never decodes them")
        rng = random.Random(7)
        now = time.time() - count
        statuses = (
            [AnnotationStatus.SUCCESS] * 16
            + [AnnotationStatus.PENDING] * 3
            + [AnnotationStatus.REVIEW_DENIED]
        )
        with store.write() as conn:
            conn.executemany(
                "INSERT INTO concepts (app_pk, id, name, created_at, modified_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(app.pk, c, c, now, now) for c in CONCEPTS],
            )
            conn.executemany(
                "INSERT INTO inputs (app_pk, id, blob_sha, width, height, format, status_code, "
                "created_at, modified_at) VALUES (?, ?, ?, 32, 32, 'PNG', ?, ?, ?)",
                (
                    (app.pk, f"input-{n:06d}", sha, InputStatus.SUCCESS, now + n, now + n)
                    for n in range(count)
                ),
            )
            first_pk = conn.execute(
                "SELECT MIN(pk) FROM inputs WHERE app_pk = ?", (app.pk,)
            ).fetchone()[0]
            annotations: list[tuple[Any, ...]] = []
            for n in range(count):
                for k in range(2 if rng.random() < 0.3 else 1):
                    annotations.append(
                        (
                            app.pk,
                            first_pk + n,
                            f"ann-{n:06d}-{k}",
                            backend.user_id,
                            "mv-1" if k else "",
                            rng.choice(statuses),
                            now + n,
                            now + n,
                        )
                    )
            conn.executemany(
                "INSERT INTO annotations (app_pk, input_pk, id, user_id, model_version_id, "
                "status_code, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                annotations,
            )
            pks = [r[0] for r in conn.execute("SELECT pk FROM annotations ORDER BY pk")]
            conn.executemany(
                "INSERT INTO annotation_concepts (annotation_pk, concept_id, value) "
                "VALUES (?, ?, ?)",
                (
                    (pk, concept, round(rng.random(), 3))
                    for pk in pks
                    for concept in rng.sample(CONCEPTS, rng.randint(1, 3))
                ),
            )
    finally:
        await backend.stop()


#: Text of every table line rendered (painted) since the last `PAINTED.clear()`.
PAINTED: list[str] = []
_render_line = DataTable.render_line


def _recording_render_line(self: DataTable[Any], y: int) -> Any:
    strip = _render_line(self, y)
    PAINTED.append(strip.text)
    return strip


DataTable.render_line = _recording_render_line  # type: ignore[method-assign]


def press(app: ClarifaiTUI, key: str) -> None:
    """Deliver a key as the terminal driver does (no Pilot settling in the timing)."""
    app.post_message(events.Key(key, key if len(key) == 1 else None))


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 60) -> None:
    """Yield to the app in small steps until `predicate()` holds (tight, for timing)."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark step did not finish")
        await asyncio.sleep(0.001)


async def painted(pilot: Pilot[Any], screen: Callable[[], Any]) -> None:
    """Until the explorer's first row (after the change) has been painted on screen."""

    def first_row_painted() -> bool:
        current = screen()
        if not isinstance(current, ExplorerScreen) or current.data is None:
            return False
        if not current.data.rows:
            return True
        first = current.data.rows[0].id[:12]
        return any(first in line for line in PAINTED)

    await until(pilot, first_row_painted)


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(data_dir: Path, pages: int) -> dict[str, float]:
    config_path = data_dir.parent / "config.toml"
    config_path.write_text(
        f'[profiles.local]\nbackend = "local"\ndata_dir = "{data_dir}"\napp_id = "{APP}"\n'
    )
    config = load_config(config_path)
    app = ClarifaiTUI(config, config.profile(), start_area="uploads")
    results: dict[str, float] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.session.client is not None or bool(app.session.error))
        assert app.session.client is not None, app.session.error

        PAINTED.clear()
        started = time.perf_counter()
        press(app, "5")
        await painted(pilot, lambda: app.screen)
        results["first page"] = (time.perf_counter() - started) * 1000
        screen = app.screen
        assert isinstance(screen, ExplorerScreen)
        table = screen.query_one(DataTable)

        timings: list[float] = []
        for number in range(2, pages + 2):
            await until(pilot, lambda n=number: n in screen._cache)  # as a reading user would
            first = next(iter(table.rows))
            PAINTED.clear()
            started = time.perf_counter()
            press(app, "pagedown")
            await until(
                pilot,
                lambda n=number, f=first: screen.page_number == n and next(iter(table.rows)) != f,
            )
            await painted(pilot, lambda: screen)
            timings.append((time.perf_counter() - started) * 1000)
        results["page-down p50"] = statistics.median(timings)
        results["page-down p95"] = statistics.quantiles(timings, n=20)[18]
        results["page-down max"] = max(timings)
        # without waiting for the pre-fetch: a fetch from the server each time
        cold: list[float] = []
        for _ in range(min(10, pages)):
            screen._cache.clear()
            number = screen.page_number + 1
            PAINTED.clear()
            started = time.perf_counter()
            press(app, "pagedown")
            await until(pilot, lambda n=number: screen.page_number == n and not screen._loading)
            await painted(pilot, lambda: screen)
            cold.append((time.perf_counter() - started) * 1000)
        results["page-down uncached max"] = max(cold)

        for name, status in (("filter SUCCESS", 24150), ("filter PENDING", 24151)):
            old = screen.data
            PAINTED.clear()
            started = time.perf_counter()
            press(app, "a")
            await until(
                pilot,
                lambda old=old, status=status: (
                    screen.filters.annotation_status == status
                    and screen.data is not old
                    and not screen._loading
                ),
            )
            await painted(pilot, lambda: screen)
            results[name] = (time.perf_counter() - started) * 1000
            assert screen.data is not None and len(screen.data.rows) > 0
        results["rss"] = rss_mb()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 inputs, fewer pages")
    parser.add_argument("--inputs", type=int, default=None)
    parser.add_argument("--pages", type=int, default=None, help="page-downs to time")
    args = parser.parse_args()
    count = args.inputs or (10_000 if args.quick else 100_000)
    pages = args.pages or (20 if args.quick else 60)
    with tempfile.TemporaryDirectory(prefix="explorer-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        asyncio.run(build(data_dir, count))
        built = time.perf_counter() - started
        results = asyncio.run(measure(data_dir, pages))
    print(f"explorer benchmark: {count:,} inputs (built in {built:.1f}s), {pages} page-downs")
    print(f"{'measure':<24}{'result':>12}{'target':>12}  ok")
    rows = [
        ("first page", "ms", TARGETS["first page"]),
        ("page-down p50", "ms", None),
        ("page-down p95", "ms", TARGETS["page-down p95"]),
        ("page-down max", "ms", None),
        ("page-down uncached max", "ms", None),
        ("filter SUCCESS", "ms", TARGETS["filter"]),
        ("filter PENDING", "ms", TARGETS["filter"]),
        ("rss", "MB", TARGETS["rss"]),
    ]
    failed = False
    for name, unit, target in rows:
        value = results[name]
        ok = "" if target is None else ("yes" if value < target else "NO")
        failed |= ok == "NO"
        shown = f"< {target:g} {unit}" if target is not None else ""
        print(f"{name:<24}{value:>9.1f} {unit:<2}{shown:>12}  {ok}")
        record(
            "explorer",
            f"{name} ({count:,} inputs)",
            value,
            unit,
            target="" if target is None else f"< {target:g}",
            ok=None if target is None else value < target,
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
