from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from api import wire
from api.client import ClarifaiClient
from api.errors import ApiError
from api.models import NewInput
from api.retry import RetryPolicy
from api.upload import (
    ItemEvent,
    ItemState,
    Journal,
    ProgressEvent,
    UploadController,
    Uploader,
    UploadEvent,
    UploadOptions,
    UploadSource,
    collect_sources,
)
from tests.client.conftest import BASE, Sleeps
from tests.client.fake_clarifai import PNG, FakeClarifai


def make_files(folder: Path, good: int, broken: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(good):
        p = folder / f"img{i:03d}.png"
        p.write_bytes(PNG + f"image {i}".encode())
        paths.append(p)
    for i in range(broken):
        # A JPEG header and nothing of a picture after it: the header check lets it through
        # and the server refuses it, so the engine's handling of a failed input is exercised.
        p = folder / f"broken{i}.jpg"
        p.write_bytes(b"\xff\xd8\xff truncated " + bytes([i]))
        paths.append(p)
    return paths


def make_client(fake: FakeClarifai, key: str = "test-key") -> ClarifaiClient:
    return ClarifaiClient(
        base_url=BASE,
        api_key=key,
        user_id="me",
        app_id="app1",
        transport=fake.transport(),
        retry=RetryPolicy(sleep=Sleeps(), jitter=False),
    )


def uploader(
    client: ClarifaiClient, state: Path, events: list[UploadEvent] | None = None, **options: object
) -> Uploader:
    merged: dict[str, object] = {"batch_size": 8, "concurrency": 2, "poll_interval": 0.0}
    merged.update(options)
    opts = UploadOptions(**merged)  # type: ignore[arg-type]
    return Uploader(
        client,
        state_dir=state,
        options=opts,
        on_event=events.append if events is not None else None,
        sleep=Sleeps(),
    )


def test_collect_sources_walks_and_skips(tmp_path: Path) -> None:
    make_files(tmp_path / "a", 2)
    (tmp_path / "a" / ".hidden.png").write_bytes(PNG)
    (tmp_path / "a" / "notes.txt").write_text("x")
    make_files(tmp_path / "a" / "sub", 1)
    make_files(tmp_path / "a" / ".secret", 1)
    urls = tmp_path / "urls.txt"
    urls.write_text("# comment\nhttps://x.test/1.jpg\n\nftp://nope\nhttps://x.test/1.jpg\n")
    flat = collect_sources([tmp_path / "a"], url_files=[urls])
    assert [s.label.rsplit("/", 1)[-1] for s in flat if s.kind == "file"] == [
        "img000.png",
        "img001.png",
    ]
    assert [s.url for s in flat if s.kind == "url"] == ["https://x.test/1.jpg"]
    assert [s.error for s in flat if s.kind == "error"] == ["not an http(s) URL"]
    deep = collect_sources([tmp_path / "a"], recursive=True)
    assert len(deep) == 3
    missing = collect_sources([tmp_path / "nope.png"])
    assert missing[0].kind == "error" and "no such file" in missing[0].error


async def test_happy_path_batches_and_follows_processing(tmp_path: Path) -> None:
    fake = FakeClarifai(process_after=2)
    make_files(tmp_path / "imgs", 20, broken=2)
    events: list[UploadEvent] = []
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "state", events).run(
            collect_sources([tmp_path / "imgs"])
        )
    assert fake.post_calls == 3  # ceil(22 / 8)
    assert len(summary.uploaded) == 20
    assert {r.label.rsplit("/", 1)[-1] for r in summary.failed} == {"broken0.jpg", "broken1.jpg"}
    assert all("cannot identify image file" in r.reason for r in summary.failed)
    assert not summary.ok
    states = {e.state for e in events if isinstance(e, ItemEvent)}
    assert {ItemState.UPLOADING, ItemState.ACKNOWLEDGED, ItemState.DONE, ItemState.FAILED} <= states
    last = [e for e in events if isinstance(e, ProgressEvent)][-1]
    assert (last.total, last.uploaded, last.failed, last.queued) == (22, 20, 2, 0)


async def test_uploader_reads_only_the_statuses_of_an_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The uploader asks for no Input objects (keep_inputs=False): reading each answered input
    was half of handling the answer; outcomes and reasons still come through."""
    parsed: list[object] = []
    original = wire.input_from

    def counting(raw: object) -> object:
        parsed.append(raw)
        return original(raw)  # type: ignore[arg-type]

    monkeypatch.setattr(wire, "input_from", counting)
    fake = FakeClarifai()
    make_files(tmp_path / "imgs", 10)
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "state", follow_processing=False).run(
            collect_sources([tmp_path / "imgs"])
        )
        assert len(summary.uploaded) == 10 and not summary.failed
        assert parsed == []
        await client.post_inputs_batch([NewInput(data=b"other")])
    assert len(parsed) == 1  # the default still reads them


async def test_second_run_reports_already_present_without_posting(tmp_path: Path) -> None:
    fake = FakeClarifai()
    make_files(tmp_path / "imgs", 10)
    async with make_client(fake) as client:
        first = await uploader(client, tmp_path / "state").run(collect_sources([tmp_path / "imgs"]))
        posts = fake.post_calls
        second = await uploader(client, tmp_path / "state").run(
            collect_sources([tmp_path / "imgs"])
        )
        # a fresh journal (another machine): the server answers duplicates
        third = await uploader(client, tmp_path / "other").run(collect_sources([tmp_path / "imgs"]))
    assert len(first.uploaded) == 10
    assert len(second.already_present) == 10 and fake.post_calls > posts - 1
    assert fake.post_calls == posts + 2  # only the fresh journal posted (10 items / 8)
    assert len(third.already_present) == 10 and not third.failed
    assert all(n == 1 for n in fake.created.values())


async def test_same_content_twice_is_sent_once(tmp_path: Path) -> None:
    fake = FakeClarifai()
    folder = tmp_path / "imgs"
    make_files(folder, 1)
    (folder / "copy.png").write_bytes((folder / "img000.png").read_bytes())
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "s").run(collect_sources([folder]))
    assert len(summary.uploaded) == 1 and len(summary.already_present) == 1
    assert "same content as" in summary.already_present[0].reason
    assert len(fake.created) == 1


@pytest.mark.parametrize("cancel_at", [1, 7, 19, 33, 50, 64])
async def test_killed_at_any_moment_then_resumed(tmp_path: Path, cancel_at: int) -> None:
    fake = FakeClarifai(process_after=2)
    make_files(tmp_path / "imgs", 30, broken=2)
    sources = collect_sources([tmp_path / "imgs"])
    async with make_client(fake) as client:
        seen = 0
        task: asyncio.Task[object] | None = None

        def kill(event: UploadEvent) -> None:
            nonlocal seen
            if isinstance(event, ItemEvent):
                seen += 1
                if seen == cancel_at and task is not None:
                    task.cancel()

        up = Uploader(
            client,
            state_dir=tmp_path / "state",
            options=UploadOptions(batch_size=8, concurrency=2, poll_interval=0.0),
            on_event=kill,
            sleep=Sleeps(),
        )
        task = asyncio.create_task(up.run(sources))
        with pytest.raises(asyncio.CancelledError):
            await task
        summary = await uploader(client, tmp_path / "state").run(sources)
    assert len(summary.uploaded) == 30, summary
    assert not summary.already_present
    assert len(summary.failed) == 2 and not summary.pending
    assert all(n == 1 for n in fake.created.values())
    assert len(fake.inputs) == 32


async def test_killed_while_a_batch_is_in_flight(tmp_path: Path) -> None:
    """The server stored the batch but the answer never arrived: no duplicates, all ours."""
    fake = FakeClarifai(block_post=2)
    make_files(tmp_path / "imgs", 20)
    sources = collect_sources([tmp_path / "imgs"])
    async with make_client(fake) as client:
        up = uploader(client, tmp_path / "state", concurrency=1)
        task = asyncio.create_task(up.run(sources))
        await fake.blocked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        fake.block_post = None
        summary = await uploader(client, tmp_path / "state").run(sources)
    assert len(summary.uploaded) == 20 and not summary.already_present and summary.ok
    assert all(n == 1 for n in fake.created.values())


async def test_unreadable_and_bad_sources_are_reported(tmp_path: Path) -> None:
    fake = FakeClarifai()
    folder = tmp_path / "imgs"
    make_files(folder, 2)
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    locked = folder / "locked.png"
    locked.write_bytes(PNG)
    sources = collect_sources([folder, tmp_path / "missing.png"])
    if os.geteuid() != 0:
        locked.chmod(0)
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "s").run(sources)
    reasons = {r.label.rsplit("/", 1)[-1]: r.reason for r in summary.failed}
    assert reasons["empty.png"] == "empty file"
    assert "no such file" in reasons["missing.png"]
    if os.geteuid() != 0:
        assert reasons["locked.png"].startswith("cannot read")


async def test_pause_resume_and_cancel(tmp_path: Path) -> None:
    fake = FakeClarifai()
    make_files(tmp_path / "imgs", 24)
    controller = UploadController()
    events: list[UploadEvent] = []
    async with make_client(fake) as client:
        up = Uploader(
            client,
            state_dir=tmp_path / "s",
            options=UploadOptions(batch_size=8, concurrency=1, poll_interval=0.0),
            controller=controller,
            on_event=events.append,
            sleep=Sleeps(),
        )
        controller.pause()
        task = asyncio.create_task(up.run(collect_sources([tmp_path / "imgs"])))
        for _ in range(20):
            await asyncio.sleep(0)
        assert fake.post_calls == 0 and controller.paused
        assert any(isinstance(e, ProgressEvent) and e.paused for e in events)
        controller.resume()
        controller.cancel()
        summary = await task
    assert summary.cancelled and len(summary.pending) == 24 - len(summary.uploaded)
    # a later run finishes the job
    async with make_client(fake) as client:
        rest = await uploader(client, tmp_path / "s").run(collect_sources([tmp_path / "imgs"]))
    assert rest.ok and len(rest.uploaded) + len(rest.already_present) == 24


async def test_concepts_created_and_sent_with_value_1(tmp_path: Path) -> None:
    fake = FakeClarifai()
    fake.concepts["cat"] = "cat"
    make_files(tmp_path / "imgs", 2)
    async with make_client(fake) as client:
        await uploader(client, tmp_path / "s", concepts=("cat", "dog")).run(
            collect_sources([tmp_path / "imgs"])
        )
    assert set(fake.concepts) == {"cat", "dog"}
    stored = next(iter(fake.inputs.values()))
    assert stored.concepts == [{"id": "cat", "value": 1.0}, {"id": "dog", "value": 1.0}]


async def test_auth_failure_stops_the_run_and_resumes_later(tmp_path: Path) -> None:
    fake = FakeClarifai()
    make_files(tmp_path / "imgs", 3)
    sources = collect_sources([tmp_path / "imgs"])
    async with make_client(fake, key="wrong") as client:
        with pytest.raises(ApiError) as info:
            await uploader(client, tmp_path / "s").run(sources)
    assert info.value.code == 11008 and "CLARIFAI_PAT" in str(info.value)
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "s").run(sources)
    assert len(summary.uploaded) == 3


async def test_urls_get_url_ids_and_no_wait_mode(tmp_path: Path) -> None:
    fake = FakeClarifai()
    sources = [
        UploadSource.for_url("https://x.test/a.jpg"),
        UploadSource.for_url("https://x.test/b.jpg"),
    ]
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "s", follow_processing=False).run(sources)
    assert len(summary.uploaded) == 2 and fake.list_calls == 0
    assert {s.url for s in fake.inputs.values()} == {"https://x.test/a.jpg", "https://x.test/b.jpg"}
    # Run again, still without waiting: done, nothing "not finished", nothing sent twice.
    async with make_client(fake) as client:
        again = await uploader(client, tmp_path / "s", follow_processing=False).run(sources)
    assert not again.pending and not again.failed, again
    assert len(again.uploaded) + len(again.already_present) == 2
    assert len(fake.inputs) == 2


def test_folder_walk_takes_the_configured_extensions(tmp_path: Path) -> None:
    from api.upload import collect_sources

    for name in ("a.png", "b.JPG", "c.tif", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    default = {s.label.rsplit("/", 1)[-1] for s in collect_sources([tmp_path])}
    assert default == {"a.png", "b.JPG", "c.tif"}
    narrowed = {
        s.label.rsplit("/", 1)[-1] for s in collect_sources([tmp_path], extensions=["png", ".jpg"])
    }
    assert narrowed == {"a.png", "b.JPG"}
    named = collect_sources([tmp_path / "notes.txt"], extensions=["png"])
    assert [s.kind for s in named] == ["file"]  # named explicitly: always taken


def _journal_states(state: Path) -> dict[str, str]:
    """input id -> state, as a separate connection (another process) sees the journal."""
    [path] = (state / "uploads").glob("*.sqlite")
    with contextlib.closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT input_id, state FROM items WHERE input_id != ''"))


async def test_every_input_is_journalled_as_uploading_before_it_is_posted(
    tmp_path: Path,
) -> None:
    fake = FakeClarifai()
    make_files(tmp_path / "imgs", 30)
    seen_at_post: list[dict[str, str]] = []
    handle = fake.handle

    async def checking(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/inputs"):
            ids = [i["id"] for i in json.loads(request.content)["inputs"]]
            states = _journal_states(tmp_path / "state")
            seen_at_post.append({i: states.get(i, "missing") for i in ids})
        return await handle(request)

    fake.handle = checking  # type: ignore[method-assign]
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "state", concurrency=3).run(
            collect_sources([tmp_path / "imgs"])
        )
    assert len(summary.uploaded) == 30 and fake.post_calls == 4
    assert len(seen_at_post) == 4
    for states in seen_at_post:
        assert set(states.values()) == {"uploading"}, states
    final = _journal_states(tmp_path / "state")
    assert len(final) == 30 and set(final.values()) == {"done"}


async def test_a_journal_that_cannot_be_written_stops_the_run_before_any_post(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeClarifai()
    make_files(tmp_path / "imgs", 20)
    sources = collect_sources([tmp_path / "imgs"])

    def failing(self: Journal, rows: object, meta: object = ()) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    async with make_client(fake) as client:
        with monkeypatch.context() as patch:
            patch.setattr(Journal, "write", failing)
            with pytest.raises(sqlite3.OperationalError):
                await uploader(client, tmp_path / "state").run(sources)
        assert fake.post_calls == 0  # nothing is sent that the journal does not know of
        summary = await uploader(client, tmp_path / "state").run(sources)
    assert len(summary.uploaded) == 20 and summary.ok


async def test_a_batch_read_ahead_is_not_shown_as_uploading_and_resumes(tmp_path: Path) -> None:
    fake = FakeClarifai(block_post=1)
    make_files(tmp_path / "imgs", 24)
    sources = collect_sources([tmp_path / "imgs"])
    events: list[UploadEvent] = []
    async with make_client(fake) as client:
        up = uploader(client, tmp_path / "state", events, concurrency=1, batch_size=8)
        task = asyncio.create_task(up.run(sources))
        await fake.blocked.wait()
        for _ in range(50):  # let the next batch be read ahead while the first is in flight
            await asyncio.sleep(0.01)
        latest = {e.key: e.state for e in events if isinstance(e, ItemEvent)}
        assert list(latest.values()).count(ItemState.UPLOADING) == 8  # only the batch sent
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        fake.block_post = None
        summary = await uploader(client, tmp_path / "state").run(sources)
    assert fake.post_calls == 4  # the first batch once more (its answer was lost), then 2
    assert len(summary.uploaded) == 24 and not summary.already_present and summary.ok
    assert all(n == 1 for n in fake.created.values())


def test_folder_walk_gives_the_same_sources_as_naming_each_file(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_files(folder, 3)
    elsewhere = tmp_path / "elsewhere"
    make_files(elsewhere, 1)
    (folder / "link.png").symlink_to(elsewhere / "img000.png")
    (folder / "sub").mkdir()
    (folder / "sub" / "deep.png").write_bytes(PNG)
    walked = collect_sources([folder], recursive=True)
    named = [UploadSource.for_file(folder / n) for n in ("img000.png", "img001.png", "img002.png")]
    named.insert(3, UploadSource.for_file(folder / "link.png"))
    named.append(UploadSource.for_file(folder / "sub" / "deep.png"))
    assert [(s.key, s.label, s.path) for s in walked] == [(s.key, s.label, s.path) for s in named]
    assert walked[3].path == (elsewhere / "img000.png").resolve()


@pytest.mark.parametrize("given", [".", "imgs", "imgs/", "./imgs", "imgs/sub/.."])
def test_walked_labels_are_the_paths_as_pathlib_joins_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """Labels are joined as strings for speed; they must read as str(Path(given) / name)."""
    folder = tmp_path / "imgs"
    make_files(folder, 2)
    (folder / "sub").mkdir()
    monkeypatch.chdir(folder if given == "." else tmp_path)
    walked = collect_sources([given])
    names = ["img000.png", "img001.png"]
    assert [s.label for s in walked] == [str(Path(given) / n) for n in names]
    assert [s.path for s in walked] == [(folder / n).resolve() for n in names]


async def test_a_pause_is_counted_once_while_reader_and_poster_both_wait(tmp_path: Path) -> None:
    now = [0.0]
    controller = UploadController()
    events: list[UploadEvent] = []
    async with make_client(FakeClarifai()) as client:
        up = Uploader(
            client,
            state_dir=tmp_path / "s",
            controller=controller,
            on_event=events.append,
            clock=lambda: now[0],
        )
        controller.pause()
        waiters = [asyncio.create_task(up._wait_running()) for _ in range(2)]
        await asyncio.sleep(0)
        now[0] = 10.0
        controller.resume()
        assert await asyncio.gather(*waiters) == [True, True]
        now[0] = 15.0
        assert up.progress().elapsed == 5.0
    paused = [e.paused for e in events if isinstance(e, ProgressEvent)]
    assert paused == [True, False]  # announced once each way


async def test_a_fatal_error_in_batches_in_flight_is_raised_once_and_none_left_unretrieved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Every batch of an app that does not exist fails with the same 11101. With four in
    # flight, the first was raised and the other three were left for asyncio to report as
    # "Task exception was never retrieved" (four tracebacks after the CLI's own message).
    import gc

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)  # several batches get in flight before the first answer
        body = {"status": {"code": 11101, "description": "app 'app1' does not exist"}}
        return httpx.Response(404, json=body)

    make_files(tmp_path / "imgs", 40)
    client = ClarifaiClient(
        base_url=BASE,
        api_key="test-key",
        user_id="me",
        app_id="app1",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(sleep=Sleeps(), jitter=False),
    )
    async with client:
        run = uploader(client, tmp_path / "s", batch_size=2, concurrency=4)
        with pytest.raises(ApiError) as info:
            await run.run(collect_sources([tmp_path / "imgs"]))
    assert info.value.code == 11101
    del run, info
    gc.collect()
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


async def test_files_whose_header_is_no_image_are_failed_and_never_sent(tmp_path: Path) -> None:
    """Issue #26: an empty file and a text file named .png are reported with the reason and
    never posted (on the platform each would be a paid junk input); the rest goes as usual."""
    fake = FakeClarifai(process_after=1)
    folder = tmp_path / "imgs"
    make_files(folder, 3)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.png").write_bytes(b"just some text, named like an image")
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "state").run(collect_sources([folder]))
    assert len(summary.uploaded) == 3
    reasons = {r.label.rsplit("/", 1)[-1]: r.reason for r in summary.failed}
    assert reasons["empty.png"] == "empty file"
    assert "not a supported image" in reasons["notes.png"]
    assert len(fake.inputs) == 3  # neither was sent
