"""PostInputs acknowledgement throughput over gRPC against REST, on one `serve` (issue #28).

Starts `serve --grpc-port 0`, then posts B batches of 128 small PNGs through REST (httpx, the
JSON body the official JSON client sends) and B other batches through gRPC (the official
`V2Stub` on an insecure channel, as the SDK), one call at a time each, and reports inputs
acknowledged per second for both and their ratio. Target: gRPC >= REST.

    .venv/bin/python benchmarks/grpc_bench.py [--quick] [--batches B] [--rounds R]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._results import record
from benchmarks.ingest_bench import make_pngs

ROOT = Path(__file__).resolve().parents[1]
KEY = "grpc-bench-key-0123456789"
BATCH = 128


def start(data_dir: Path) -> tuple[subprocess.Popen[str], str, int]:
    env = {**os.environ, "CLARIFAI_PAT": KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.local.serve", "--port", "0", "--grpc-port", "0",
         "--data-dir", str(data_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    url = proc.stdout.readline().split("listening on ", 1)[1].split()[0]
    port = int(proc.stdout.readline().rsplit(":", 1)[1])
    return proc, url, port


def rest_rate(url: str, batches: list[list[bytes]], prefix: str) -> float:
    headers = {"Authorization": f"Key {KEY}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=120, trust_env=False) as client:
        started = time.perf_counter()
        for b, batch in enumerate(batches):
            body = {
                "inputs": [
                    {"id": f"{prefix}-{b}-{n}",
                     "data": {"image": {"base64": base64.b64encode(p).decode()}}}
                    for n, p in enumerate(batch)
                ]
            }  # fmt: skip
            answer = client.post("/v2/users/me/apps/bench/inputs", content=json.dumps(body))
            assert answer.status_code == 200, answer.text[:300]
        return sum(map(len, batches)) / (time.perf_counter() - started)


def grpc_rate(port: int, batches: list[list[bytes]], prefix: str) -> float:
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc

    stub = service_pb2_grpc.V2Stub(
        ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=port)
    )
    uai = resources_pb2.UserAppIDSet(user_id="me", app_id="bench")
    md = (("authorization", f"Key {KEY}"),)
    started = time.perf_counter()
    for b, batch in enumerate(batches):
        request = service_pb2.PostInputsRequest(
            user_app_id=uai,
            inputs=[
                resources_pb2.Input(
                    id=f"{prefix}-{b}-{n}",
                    data=resources_pb2.Data(image=resources_pb2.Image(base64=p)),
                )
                for n, p in enumerate(batch)
            ],
        )
        answer = stub.PostInputs(request, metadata=md)
        assert answer.status.code == 10000, answer.status
    return sum(map(len, batches)) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 batches, 1 round")
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    count, rounds = (4, 1) if args.quick else (args.batches, args.rounds)
    pngs = make_pngs(2 * count * BATCH * rounds, 32)
    chunks = [pngs[i : i + BATCH] for i in range(0, len(pngs), BATCH)]
    ratios, rest_rates, grpc_rates = [], [], []
    with tempfile.TemporaryDirectory(prefix="grpc-bench-") as tmp:
        proc, url, port = start(Path(tmp))
        try:
            httpx.post(
                f"{url}/v2/users/me/apps",
                json={"apps": [{"id": "bench"}]},
                headers={"Authorization": f"Key {KEY}"},
                trust_env=False,
            ).raise_for_status()
            for r in range(rounds):
                mine = chunks[2 * count * r : 2 * count * (r + 1)]
                # alternate which goes first, so the server's growing queue weighs on both
                if r % 2:
                    g = grpc_rate(port, mine[:count], f"g{r}")
                    s = rest_rate(url, mine[count:], f"r{r}")
                else:
                    s = rest_rate(url, mine[:count], f"r{r}")
                    g = grpc_rate(port, mine[count:], f"g{r}")
                rest_rates.append(s)
                grpc_rates.append(g)
                ratios.append(g / s)
                print(f"round {r + 1}: REST {s:,.0f}/s, gRPC {g:,.0f}/s, ratio {g / s:.3f}")
        finally:
            proc.terminate()
            proc.wait(30)
    ratio = sorted(ratios)[len(ratios) // 2]
    rest, grpc_ = sorted(rest_rates)[len(ratios) // 2], sorted(grpc_rates)[len(ratios) // 2]
    ok = ratio >= 1.0
    record("grpc", "PostInputs acknowledged, REST", rest, "inputs/s")
    record("grpc", "PostInputs acknowledged, gRPC", grpc_, "inputs/s")
    record("grpc", "gRPC / REST acknowledgement", ratio, "x", target=">= 1.0", ok=ok)
    print(f"median ratio gRPC / REST: {ratio:.3f} (target >= 1.0): {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
