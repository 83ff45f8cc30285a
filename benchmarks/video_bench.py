"""Video ingest: sampled frames processed per second, against a bare PyAV decode + embed loop.

Makes N videos (H.264 MP4, 320x240, 25 fps, moving colour and shapes), then
- **bare**: one loop over the same files that samples a frame a second with PyAV
  (``api.video.sampled_frames``) and embeds the frames with the default embedder, in groups of
  32, as ingest does (no HTTP, no storage, no workflow);
- **ingest**: the embedded backend in-process (httpx.ASGITransport, as the TUI runs it), an
  app on the base workflow Universal (its default workflow embeds every frame); each video
  posted in its own PostInputs (one video a request, as on the platform), timed until every
  video is processed (30000).
Target (issue #27): ingest >= 0.6x bare, in sampled frames per second.

    .venv/bin/python benchmarks/video_bench.py [--quick] [--videos N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api import video
from api.local.backend import LocalBackend
from benchmarks._results import record

KEY = "bench-key"
APP = "/v2/users/me/apps/bench"
TARGET = 0.6


def make_video(seed: int, seconds: int, fps: int = 25) -> bytes:
    from PIL import Image, ImageDraw

    frames = []
    for i in range(seconds * fps):
        image = Image.new("RGB", (320, 240), ((seed * 53 + i) % 256, (i * 3) % 256, 90))
        draw = ImageDraw.Draw(image)
        x = (i * 4 + seed * 30) % 280
        draw.ellipse((x, 60, x + 40, 100), fill=(250, 250, 250))
        draw.rectangle((40, (i * 2) % 200, 90, (i * 2) % 200 + 30), fill=(20, 20, 200))
        frames.append(image)
    return video.encode(frames, fps=fps, codec="libx264")


def bare(paths: list[Path]) -> tuple[int, float]:
    from api.local.nodes.embedder import get_embedder
    from api.local.nodes.types import DEFAULT_EMBEDDER

    embedder = get_embedder(DEFAULT_EMBEDDER)
    embedder.embed_many([video.frame_at(paths[0], 0)])  # load it before timing
    frames = 0
    start = time.perf_counter()
    for path in paths:
        group = []
        for sampled in video.sampled_frames(str(path), 1000):
            group.append(sampled.image)
            if len(group) == 32:
                embedder.embed_many(group)
                frames += len(group)
                group = []
        if group:
            embedder.embed_many(group)
            frames += len(group)
    return frames, time.perf_counter() - start


async def ingest(datas: list[bytes], data_dir: Path) -> tuple[int, float]:
    backend = LocalBackend(data_dir, api_key=KEY)
    await backend.start()
    try:
        transport = httpx.ASGITransport(app=backend.app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Key {KEY}"},
            timeout=600,
        ) as c:
            r = await c.post("/v2/users/me/apps", json={"apps": [{"id": "bench"}]})
            r.raise_for_status()
            # Warm the worker processes and the embedder with one short video first.
            warm = video.encode([video.frame_at(datas[0], 0)], fps=1)
            await c.post(
                f"{APP}/inputs",
                json={"inputs": [{"id": "warm", "data": {"video": {"base64": _b64(warm)}}}]},
            )
            await backend.wait_idle(300)
            start = time.perf_counter()
            for n, data in enumerate(datas):
                body = {"inputs": [{"id": f"v{n}", "data": {"video": {"base64": _b64(data)}}}]}
                r = await c.post(f"{APP}/inputs", json=body)
                r.raise_for_status()
            await backend.wait_idle(600)
            elapsed = time.perf_counter() - start
            r = await c.get(f"{APP}/inputs", params={"per_page": 1000})
            inputs = [i for i in r.json()["inputs"] if i["id"] != "warm"]
            failed = [i for i in inputs if i["status"]["code"] != 30000]
            if failed:
                raise RuntimeError(f"{len(failed)} videos failed: {failed[0]['status']}")
            frames = sum(
                len(
                    video.sample_times(
                        round(i["data"]["video"]["video_info"]["duration_seconds"] * 1000)
                    )
                )
                for i in inputs
            )
            return frames, elapsed
    finally:
        await backend.stop()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 videos of 15 s")
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    count, seconds = (4, 15) if args.quick else (args.videos, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        datas = [make_video(seed, seconds) for seed in range(count)]
        paths = []
        for n, data in enumerate(datas):
            path = root / f"v{n}.mp4"
            path.write_bytes(data)
            paths.append(path)
        bare_frames, bare_s = bare(paths)
        ingest_frames, ingest_s = asyncio.run(ingest(datas, root / "data"))
    bare_rate = bare_frames / bare_s
    ingest_rate = ingest_frames / ingest_s
    ratio = ingest_rate / bare_rate
    ok = ratio >= TARGET
    mb = sum(len(d) for d in datas) / 1e6
    print(f"{count} videos of {seconds} s (320x240, 25 fps, H.264; {mb:.1f} MB in all)")
    print(f"bare PyAV sample + embed: {bare_frames} frames in {bare_s:.2f} s: {bare_rate:.1f}/s")
    print(
        f"ingest to 30000:          {ingest_frames} frames in {ingest_s:.2f} s: {ingest_rate:.1f}/s"
    )
    print(f"ingest / bare: {ratio:.3f}x (target >= {TARGET})  {'ok' if ok else 'MISSED'}")
    record("video", "sampled frames processed", ingest_rate, "frames/s")
    record("video", "bare PyAV sample + embed", bare_rate, "frames/s")
    record("video", "ingest / bare", ratio, "x", target=f">= {TARGET}", ok=ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
