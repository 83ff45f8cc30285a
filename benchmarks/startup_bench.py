"""Start-up: `clarifai-tui --version` against `python -c pass`, and the TUI's first paint.

    .venv/bin/python benchmarks/startup_bench.py [--repeat N]

`--version` must take under three times an empty interpreter start. First paint is the time
from launching a fresh interpreter to the first area drawn (headless, embedded backend on a
temporary data dir), measured inside that process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._results import record

FIRST_PAINT = r"""
import time, sys
t0 = float(sys.argv[1])
import asyncio
from pathlib import Path
from tui.app import ClarifaiTUI
from tui.config import load_config

async def main() -> None:
    tmp = Path(sys.argv[2])
    path = tmp / "config.toml"
    path.write_text(f'[profiles.local]\nbackend = "local"\ndata_dir = "{tmp / "data"}"\n')
    config = load_config(path)
    app = ClarifaiTUI(config, config.profile())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        painted = time.time()
    print(f"{painted - t0:.4f}")

asyncio.run(main())
"""


def run_many(argv: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    python = sys.executable
    run_many([python, "-c", "pass"], 3)  # warm the file cache
    bare = statistics.median(run_many([python, "-c", "pass"], args.repeat))
    version = statistics.median(
        run_many([python, "-c", "from tui.cli import main; main(['--version'])"], args.repeat)
    )
    ratio = version / bare
    paints = []
    for _ in range(max(3, args.repeat // 4)):
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                [python, "-c", FIRST_PAINT, repr(time.time()), tmp],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            paints.append(float(out.strip().splitlines()[-1]))
    paint = statistics.median(paints)
    print(f"python -c pass      {bare * 1000:7.1f} ms")
    print(f"--version           {version * 1000:7.1f} ms  ({ratio:.2f}x, target < 3x)")
    print(f"first paint (80x24) {paint * 1000:7.1f} ms")
    record("startup", "--version / python -c pass", ratio, "x", target="< 3", ok=ratio < 3)
    record("startup", "--version", version * 1000, "ms")
    record("startup", "first paint, 80x24", paint * 1000, "ms")
    return 0 if ratio < 3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
