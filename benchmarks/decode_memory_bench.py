"""Peak memory of `clarifai-tui serve` answering requests of maximal, highly compressible images.

The attack from issue 25: PostModelOutputs / PostWorkflowResults with many copies of a small PNG
of huge dimensions (a one-colour 7000x7000 PNG is ~140 KB; decoded, 147 MB of RGB). Before the
pixel budget, 40 copies took the server to 7.7 GB. This starts a fresh server (default limits:
50 million pixels an image), posts

- PostModelOutputs (the public embedder) with ``--inputs`` copies (default 128, the platform's
  batch limit) of a maximal image (7071x7071, just under the limit), and
- PostWorkflowResults (the public Universal workflow) with 32 copies (its limit), and
- one PostModelOutputs of 7072x7072 images (just over the limit: each its own 30002),

then reads the server's peak resident set (VmHWM in /proc/PID/status). Target (issue 25): peak
< 1 GB.

    .venv/bin/python benchmarks/decode_memory_bench.py [--quick] [--inputs N]
"""

from __future__ import annotations

import argparse
import base64
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._results import record

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key-0123456789"
TARGET_MB = 1024.0
EMBEDDER = "/v2/users/clarifai/apps/main/models/general-image-embedding/outputs"
UNIVERSAL = "/v2/users/clarifai/apps/main/workflows/Universal/results"


def flat_png(size: int) -> bytes:
    """A ``size`` x ``size`` one-colour RGB PNG, built without decoding anything."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\x40\x80\xc0" * size
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(size)) + packer.flush()
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, CLARIFAI_PAT=KEY)
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.local.serve", "--port", "0", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "listening on" in line:
            return proc, line.split("listening on ", 1)[1].split()[0]
    raise RuntimeError(f"server exited with {proc.wait()}")


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def post(client: httpx.Client, path: str, image: bytes, count: int) -> tuple[float, dict[int, int]]:
    item = {"data": {"image": {"base64": base64.b64encode(image).decode()}}}
    started = time.perf_counter()
    r = client.post(path, json={"inputs": [item] * count})
    elapsed = time.perf_counter() - started
    r.raise_for_status()
    body = r.json()
    answers = body.get("outputs") or body.get("results") or []
    codes: dict[int, int] = {}
    for answer in answers:
        code = answer["status"]["code"]
        codes[code] = codes.get(code, 0) + 1
    return elapsed, codes


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--quick", action="store_true", help="16 inputs instead of 128")
    p.add_argument("--inputs", type=int, default=None, help="PostModelOutputs inputs (128)")
    args = p.parse_args()
    count = args.inputs or (16 if args.quick else 128)
    maximal, over = flat_png(7071), flat_png(7072)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="decode-memory-bench-") as tmp:
        proc, url = start_server(Path(tmp))
        try:
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Key {KEY}"}, timeout=1800
            ) as client:
                client.get("/v2/users/clarifai/apps/main").raise_for_status()
                idle = status_mb(proc.pid, "VmRSS")
                seconds, codes = post(client, EMBEDDER, maximal, count)
                rows.append((f"PostModelOutputs, {count} x 7071x7071", f"{seconds:.1f} s {codes}"))
                seconds, codes = post(client, UNIVERSAL, maximal, 32)
                rows.append(("PostWorkflowResults, 32 x 7071x7071", f"{seconds:.1f} s {codes}"))
                seconds, codes = post(client, EMBEDDER, over, count)
                rows.append((f"PostModelOutputs, {count} x 7072x7072", f"{seconds:.1f} s {codes}"))
                peak = status_mb(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"maximal PNG: {len(maximal):,} bytes")
    for what, figure in rows:
        print(f"{what:40} {figure}")
    print(f"server RSS idle {idle:,.0f} MB, peak {peak:,.0f} MB (target < {TARGET_MB:,.0f} MB)")
    ok = peak < TARGET_MB
    record(
        "decode memory",
        f"serve peak RSS, {count} maximal images",
        round(peak, 1),
        "MB",
        target=f"< {TARGET_MB:.0f}",
        ok=ok,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
