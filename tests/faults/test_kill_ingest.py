"""SIGKILL the server while it is ingesting, restart it on the same data dir.

Nothing acknowledged may be lost, the queued work must finish after the restart (every input
ends 30000 or 30002 with a reason), and nothing may be stored twice.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx
import pytest

from tests.faults.support import (
    DB_NAME,
    counts,
    image_item,
    integrity,
    list_all,
    poll,
    serve,
    tiny_png,
)

APP = "ingest"
INPUTS = f"/v2/users/me/apps/{APP}/inputs"
BROKEN = {"broken-0": b"definitely not an image", "broken-1": b"\x89PNG\r\n\x1a\n truncated"}


def _batch(start: int, size: int) -> list[dict[str, object]]:
    return [image_item(f"img-{i:05d}", tiny_png(i)) for i in range(start, start + size)]


class Poster(threading.Thread):
    """Posts batches until told to stop or the server goes away; remembers what was acked."""

    def __init__(self, url: str, key: str, start_at: int, batches: int, size: int) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.start_at, self.batches, self.size = start_at, batches, size
        self.acked: list[str] = []
        self.unacked: list[list[dict[str, object]]] = []
        self.stop = threading.Event()
        self.acked_batches = 0

    def run(self) -> None:
        with httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Key {self.key}"},
            timeout=30,
            trust_env=False,
        ) as http:
            for n in range(self.batches):
                if self.stop.is_set():
                    return
                items = _batch(self.start_at + n * self.size, self.size)
                try:
                    r = http.post(INPUTS, json={"inputs": items})
                except httpx.TransportError:
                    self.unacked.append(items)
                    return
                if r.status_code != 200 or r.json()["status"]["code"] != 10000:
                    self.unacked.append(items)
                    return
                self.acked.extend(str(i["id"]) for i in items)
                self.acked_batches += 1


def test_sigkill_during_ingest_loses_nothing_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    acked: list[str] = []
    with serve(
        data, wrapper="tests.faults.slow_serve", env={"FAULTS_INGEST_DELAY": "0.01"}
    ) as first:
        with first.client() as http:
            assert http.post("/v2/users/me/apps", json={"apps": [{"id": APP}]}).status_code == 200
            # Three batches acknowledged before anything else happens (two broken images in one).
            first_batch = _batch(0, 126) + [image_item(k, v) for k, v in BROKEN.items()]
            for items in (first_batch, _batch(126, 128), _batch(254, 128)):
                r = http.post(INPUTS, json={"inputs": items})
                assert r.status_code == 200 and r.json()["status"]["code"] == 10000, r.text
                assert {i["status"]["code"] for i in r.json()["inputs"]} == {30001}
                acked.extend(str(i["id"]) for i in items)
            poster = Poster(first.url, first.key, start_at=382, batches=8, size=50)
            poster.start()

            def mid_work() -> dict[str, int] | None:
                c = counts(http, APP)
                pending = c["to_process"] + c["processing"]
                busy = c["processed"] + c["errors"] >= 20 and pending > 0
                return c if busy and poster.acked_batches >= 1 else None

            before = poll(mid_work, "ingest to be under way with a posted batch acknowledged")
        first.proc.send_signal(signal.SIGKILL)
        assert first.proc.wait(30) == -signal.SIGKILL
        poster.stop.set()
        poster.join(30)
        assert not poster.is_alive()
    assert before["to_process"] + before["processing"] > 0  # the kill really hit pending work
    acked.extend(poster.acked)
    in_flight = [item for batch in poster.unacked for item in batch]

    with serve(data) as second, second.client() as http:

        def settled() -> dict[str, int] | None:
            c = counts(http, APP)
            return c if c["to_process"] == 0 and c["processing"] == 0 else None

        final = poll(settled, "the resumed ingest to finish")
        listed = list_all(http, APP)
        ids = [str(i["id"]) for i in listed]
        assert len(ids) == len(set(ids)), "an input is stored twice"
        assert set(acked) <= set(ids), f"acknowledged inputs lost: {sorted(set(acked) - set(ids))}"
        in_flight_ids = {str(i["id"]) for i in in_flight}
        present = in_flight_ids & set(ids)
        assert present in (set(), in_flight_ids), "a batch cut by the kill is half stored"
        assert set(ids) == set(acked) | present
        assert final["processed"] + final["errors"] == len(ids)
        by_id = {str(i["id"]): i for i in listed}
        for ident, item in by_id.items():
            code = item["status"]["code"]
            if ident in BROKEN:
                assert code == 30002, item["status"]
                assert item["status"].get("description"), "a failed input needs a reason"
            else:
                assert code == 30000, (ident, item["status"])
        assert final["errors"] == len(BROKEN)

        # The client whose batch was cut retries it: nothing is stored twice.
        if in_flight:
            r = http.post(INPUTS, json={"inputs": in_flight})
            assert r.status_code == 200, r.text
            poll(settled, "the retried batch to be processed")
        listed = list_all(http, APP)
        ids = [str(i["id"]) for i in listed]
        assert len(ids) == len(set(ids)) == len(set(acked) | in_flight_ids)
        assert all(i["status"]["code"] == (30002 if i["id"] in BROKEN else 30000) for i in listed)
        assert integrity(data / DB_NAME) == "ok"


def _descendants(root: int) -> set[int]:
    """Live processes below ``root`` (from /proc: its children, their children, ...)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_no_worker_process_outlives_the_server(tmp_path: Path, sig: signal.Signals) -> None:
    """The ingest worker processes (and their fork server) end with the server, however it
    ends: a SIGKILLed server must not leave idle processes holding memory behind."""
    with serve(tmp_path / "data") as served, served.client() as http:
        assert http.post("/v2/users/me/apps", json={"apps": [{"id": APP}]}).status_code == 200
        assert http.post(INPUTS, json={"inputs": _batch(0, 8)}).status_code == 200
        poll(lambda: counts(http, APP)["processed"] == 8, "the inputs to be processed")
        helpers = _descendants(served.proc.pid)
        assert len(helpers) >= 2, helpers  # a fork server and at least one worker
        served.proc.send_signal(sig)
        served.proc.wait(30)
        poll(lambda: not any(_alive(pid) for pid in helpers), "the worker processes to exit")
