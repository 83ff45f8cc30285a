"""Upload benchmark (issue 5): 2,000 small files through `api.upload` over loopback.

    .venv/bin/python benchmarks/upload_bench.py [--files 2000] [--follow]
    .venv/bin/python benchmarks/upload_bench.py --base-url http://127.0.0.1:8585 --key KEY

Starts `python -m api.local.serve --port 0` on a temporary data dir (unless --base-url is
given), then measures, each into a fresh app:
  1. the upload engine (`Uploader`, processing not followed unless --follow): wall time
     until every input is acknowledged, and the number of PostInputs calls;
  2. a bare httpx loop posting the same 128-input batches one after the other.
Checks: PostInputs calls == ceil(files / 128), and engine time <= 1.5 x bare loop time.
Exit status 0 when both hold.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api import wire
from api.client import BATCH_SIZE, ClarifaiClient
from api.models import NewInput
from api.upload import Uploader, UploadOptions, collect_sources
from benchmarks._results import record

LISTENING = re.compile(r"listening on (http://\S+)")


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.post_inputs = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/inputs"):
            self.post_inputs += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def make_images(folder: Path, count: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        image = Image.new("RGB", (16, 16), ((i * 37) % 256, (i * 91) % 256, (i // 256) % 256))
        image.putpixel((i % 16, (i // 16) % 16), (255, 255, 255))
        out = io.BytesIO()
        image.save(out, format="PNG")
        path = folder / f"img{i:05d}.png"
        path.write_bytes(out.getvalue())
        paths.append(path)
    return paths


def start_server(data_dir: Path, key: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "CLARIFAI_PAT": key}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.local.serve", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise SystemExit(f"serve exited with status {proc.returncode}")
            continue
        match = LISTENING.search(line)
        if match:
            return proc, match.group(1).rstrip("/")
    proc.terminate()
    raise SystemExit("serve did not print its listening line within 60 s")


async def bench(base_url: str, key: str, files: int, follow: bool, work: Path) -> int:
    images = make_images(work / "images", files)
    stamp = secrets.token_hex(3)
    counting = CountingTransport()
    async with ClarifaiClient(
        base_url=base_url, api_key=key, user_id="me", transport=counting
    ) as root:
        engine_app, bare_app = f"bench-engine-{stamp}", f"bench-bare-{stamp}"
        await root.create_app(engine_app, name="upload bench (engine)")
        await root.create_app(bare_app, name="upload bench (bare loop)")

        # Warm the server up first (imports, thread pools, SQLite caches): a cold server's
        # first batches are several times slower and would be charged to whichever runs first.
        warm_app = f"bench-warm-{stamp}"
        await root.create_app(warm_app, name="upload bench (warm-up)")
        await Uploader(
            root.with_app(warm_app),
            state_dir=work / "warm-state",
            options=UploadOptions(follow_processing=True, poll_interval=0.2),
        ).run(collect_sources(sorted((work / "images").iterdir())[:256]))
        counting.post_inputs = 0

        uploader = Uploader(
            root.with_app(engine_app),
            state_dir=work / "state",
            options=UploadOptions(follow_processing=follow, poll_interval=0.2),
        )
        started = time.perf_counter()
        summary = await uploader.run(collect_sources([work / "images"]))
        engine_time = time.perf_counter() - started
        engine_calls = counting.post_inputs

        batches = [
            wire.post_inputs_body(
                [NewInput(data=p.read_bytes()) for p in images[i : i + BATCH_SIZE]]
            )
            for i in range(0, len(images), BATCH_SIZE)
        ]
        path = f"/v2/users/me/apps/{bare_app}/inputs"
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Key {key}"}, timeout=120
        ) as bare:
            started = time.perf_counter()
            for body in batches:
                response = await bare.post(path, json=body)
                response.raise_for_status()
            bare_time = time.perf_counter() - started

    expected_calls = math.ceil(files / BATCH_SIZE)
    ratio = engine_time / bare_time if bare_time else float("inf")
    print(f"files: {files}  uploaded: {len(summary.uploaded)}  failed: {len(summary.failed)}")
    print(f"PostInputs calls: {engine_calls} (expected {expected_calls})")
    print(f"engine: {engine_time:.2f} s{' (following processing)' if follow else ''}")
    print(f"bare httpx loop: {bare_time:.2f} s  ratio: {ratio:.2f} (limit 1.5)")
    ok = engine_calls == expected_calls and (follow or ratio <= 1.5) and not summary.failed
    record(
        "upload",
        f"PostInputs calls for {files} files",
        engine_calls,
        "calls",
        target=f"= {expected_calls}",
        ok=engine_calls == expected_calls,
    )
    record(
        "upload", "upload wall time / bare httpx loop", ratio, "x", target="<= 1.5", ok=ratio <= 1.5
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--follow", action="store_true", help="also wait for processing")
    parser.add_argument("--base-url", help="an already running server (default: start one)")
    parser.add_argument("--key", default=os.environ.get("CLARIFAI_PAT", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="upload-bench-") as tmp:
        work = Path(tmp)
        proc = None
        base_url, key = args.base_url, args.key
        if not base_url:
            key = key or secrets.token_hex(16)
            proc, base_url = start_server(work / "data", key)
        try:
            return asyncio.run(bench(base_url, key, args.files, args.follow, work))
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
