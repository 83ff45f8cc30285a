"""`serve` tunes the garbage collector once started: the start-up heap frozen, a higher first
threshold, and cycles made afterwards still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from api.local import serve


class _Node:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_tune_gc_freezes_the_heap_raises_the_threshold_and_still_collects_cycles() -> None:
    alive = _Node()
    later_generations = gc.get_threshold()[1:]

    serve.tune_gc()

    assert gc.get_threshold() == (serve.GC_THRESHOLD, *later_generations)
    assert serve.GC_THRESHOLD > 700  # CPython's default, which it is there to raise
    # Frozen: out of the generations that collections traverse.
    assert not any(obj is alive for obj in gc.get_objects())
    cycle = _Node()
    gone = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert gone() is None, "a cycle made after tune_gc() was not collected"


async def test_the_server_tunes_gc_once_started_and_only_then(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    calls: list[str] = []
    outcome = {"started": False}

    async def startup(self: uvicorn.Server, sockets: object = None) -> None:
        self.started = outcome["started"]

    monkeypatch.setattr(uvicorn.Server, "startup", startup)
    monkeypatch.setattr(serve, "tune_gc", lambda: calls.append("tuned"))
    server = serve._Server(uvicorn.Config(app=lambda *a: None), "listening on test")
    await server.startup()  # did not start (a failed lifespan): nothing tuned, nothing said
    assert calls == [] and "listening" not in capsys.readouterr().out
    outcome["started"] = True
    await server.startup()
    assert calls == ["tuned"] and capsys.readouterr().out == "listening on test\n"
