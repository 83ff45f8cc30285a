"""Issue #27, the client side: video files and video URLs found, checked locally against the
platform's limits (each refusal a clear reason, never sent) and sent as ``data.video``, one
video per PostInputs, with the same journal, resume and exactly-once rules as images."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path

import pytest

from api.models import content_input_id
from api.upload import ItemEvent, UploadEvent, UploadSource, collect_sources
from api.upload.scan import image_problem, video_problem
from api.video import MAX_VIDEO_BYTES
from tests.client.fake_clarifai import PNG, FakeClarifai
from tests.client.test_upload import make_client, make_files, uploader
from tests.client.test_upload_cmd import fake_client, parse
from tests.video_files import audio_only_mp4, hours_long_mp4, tiny_video
from tui.upload_cmd import run_upload_command


def name(label: str) -> str:
    return label.rsplit("/", 1)[-1]


def post_bodies(fake: FakeClarifai) -> list[dict[str, object]]:
    return [
        json.loads(r.content)
        for r in fake.requests
        if r.method == "POST" and r.url.path.endswith("/inputs")
    ]


def write_videos(folder: Path, count: int) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, ext in zip(range(count), (".mp4", ".mov", ".mp4", ".mp4"), strict=False):
        data = tiny_video(shade=i + 1)
        (folder / f"clip{i}{ext}").write_bytes(data)
        out[f"clip{i}{ext}"] = data
    return out


def write_bad_videos(folder: Path) -> None:
    """One of each refusal: empty, cut short, audio only, ten hours, a web page, too large."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.mp4").write_bytes(b"")
    good = tiny_video(10)
    (folder / "truncated.mp4").write_bytes(good[: len(good) // 2])
    (folder / "audio.mp4").write_bytes(audio_only_mp4())
    (folder / "long.mkv").write_bytes(hours_long_mp4(10))
    (folder / "page.webm").write_bytes(b"<!doctype html><html><body>404</body></html>")
    with (folder / "huge.avi").open("wb") as f:  # sparse: nothing is written, nor read
        f.truncate(MAX_VIDEO_BYTES + 1)


def test_folders_give_videos_beside_images(tmp_path: Path) -> None:
    make_files(tmp_path, 2)
    for n in ("a.mp4", "b.MOV", "c.webm", "d.mkv", "e.avi", "notes.txt", "song.mp3"):
        (tmp_path / n).write_bytes(b"x")
    found = {name(s.label): s.video for s in collect_sources([tmp_path])}
    assert found == {
        "img000.png": False,
        "img001.png": False,
        "a.mp4": True,
        "b.MOV": True,
        "c.webm": True,
        "d.mkv": True,
        "e.avi": True,
    }
    # [upload] extensions names the images; videos are found beside them unless left out
    narrowed = {name(s.label) for s in collect_sources([tmp_path], extensions=["png"])}
    assert narrowed == {"img000.png", "img001.png", "a.mp4", "b.MOV", "c.webm", "d.mkv", "e.avi"}
    images_only = collect_sources([tmp_path], videos=False)
    assert {name(s.label) for s in images_only} == {"img000.png", "img001.png"}
    # named one by one, as the Uploads area's saved queue restores them: the same
    assert UploadSource.for_file(tmp_path / "a.mp4").video
    assert not UploadSource.for_file(tmp_path / "img000.png").video


def test_urls_ending_in_a_video_extension_are_videos() -> None:
    sources = collect_sources(
        urls=[
            "https://x.test/a.mp4",
            "https://x.test/b.WEBM?token=1#t=3",
            "https://x.test/c.jpg",
            "https://x.test/mp4/page",
        ]
    )
    assert [s.video for s in sources] == [True, True, False, False]


def test_each_bad_video_has_its_reason() -> None:
    assert video_problem(b"") == "empty file"
    good = tiny_video(10)
    assert video_problem(good) == ""
    cut = video_problem(good[: len(good) // 4])
    assert "cut short" in cut and "again" in cut
    # an index read in part (streams of no known kind): cut short too, not "audio-only"
    partial = video_problem(good[: len(good) // 2])
    assert "cut short" in partial and "audio" not in partial
    assert "no video stream" in video_problem(audio_only_mp4())
    long = video_problem(hours_long_mp4(10))
    assert "10 h 0 min long" in long and "up to 10 min" in long and "cut it" in long
    page = video_problem(b"<!doctype html><html></html>")
    assert page.startswith("not a video (its header is not MP4")
    assert "an image named like a video" in video_problem(PNG + b"pixels")
    # and the other way round: a video with an image's name
    assert "a video (MP4) whose name is not a video's" in image_problem(good[:16])
    assert all(p.endswith("not sent") for p in (cut, long, page))


async def test_videos_go_one_a_call_as_data_video_with_id_and_filename(tmp_path: Path) -> None:
    fake = FakeClarifai()
    folder = tmp_path / "media"
    make_files(folder, 5)
    videos = write_videos(folder, 3)
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "state").run(collect_sources([folder]))
    assert summary.ok and len(summary.uploaded) == 8
    bodies = post_bodies(fake)
    assert fake.post_calls == len(bodies) == 4  # the 5 images together, each video alone
    sent = [b["inputs"] for b in bodies]
    image_calls = [c for c in sent if "image" in c[0]["data"]]
    assert [len(c) for c in image_calls] == [5]
    video_calls = [c for c in sent if "video" in c[0]["data"]]
    assert all(len(c) == 1 for c in video_calls)
    by_name = {c[0]["data"]["metadata"]["filename"]: c[0] for c in video_calls}
    assert set(by_name) == set(videos)
    for file_name, data in videos.items():
        raw = by_name[file_name]
        assert base64.b64decode(raw["data"]["video"]["base64"]) == data
        assert raw["id"] == content_input_id(data)
        assert "image" not in raw["data"]
    assert {s.kind for s in fake.inputs.values()} == {"image", "video"}


async def test_bad_videos_are_refused_locally_and_the_rest_goes(tmp_path: Path) -> None:
    fake = FakeClarifai()
    folder = tmp_path / "media"
    make_files(folder, 3)
    write_videos(folder, 2)
    write_bad_videos(folder)
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "state").run(collect_sources([folder]))
    assert len(summary.uploaded) == 5
    reasons = {name(r.label): r.reason for r in summary.failed}
    assert set(reasons) == {
        "empty.mp4",
        "truncated.mp4",
        "audio.mp4",
        "long.mkv",
        "page.webm",
        "huge.avi",
    }
    assert reasons["empty.mp4"] == "empty file"
    assert "cut short" in reasons["truncated.mp4"]
    assert "audio-only" in reasons["audio.mp4"]
    assert "10 h 0 min" in reasons["long.mkv"]
    assert "not a video" in reasons["page.webm"]
    assert "up to 128 MB" in reasons["huge.avi"] and "by URL" in reasons["huge.avi"]
    assert len(fake.inputs) == 5  # none of them sent
    assert fake.post_calls == 3


async def test_a_rerun_sends_nothing_twice(tmp_path: Path) -> None:
    fake = FakeClarifai()
    folder = tmp_path / "media"
    make_files(folder, 3)
    write_videos(folder, 2)
    sources = collect_sources([folder])
    async with make_client(fake) as client:
        first = await uploader(client, tmp_path / "state").run(sources)
        calls = fake.post_calls
        second = await uploader(client, tmp_path / "state").run(sources)
        # another journal (another machine): the same ids, so the server says "already there"
        third = await uploader(client, tmp_path / "elsewhere").run(sources)
    assert len(first.uploaded) == 5
    assert fake.post_calls == calls + 3  # the second run posted nothing; the third 1 + 2
    assert len(second.already_present) == 5 and len(third.already_present) == 5
    assert all(n == 1 for n in fake.created.values()) and len(fake.inputs) == 5


async def test_killed_while_a_video_is_in_flight_then_resumed(tmp_path: Path) -> None:
    """The server stored the video but the answer never arrived: resumed, it is counted as
    this upload's, once."""
    fake = FakeClarifai(block_post=2)
    folder = tmp_path / "media"
    make_files(folder, 3)
    write_videos(folder, 2)
    sources = collect_sources([folder])
    async with make_client(fake) as client:
        task = asyncio.create_task(uploader(client, tmp_path / "state", concurrency=1).run(sources))
        await fake.blocked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        fake.block_post = None
        summary = await uploader(client, tmp_path / "state").run(sources)
    assert len(summary.uploaded) == 5 and not summary.already_present and summary.ok
    assert all(n == 1 for n in fake.created.values())


async def test_video_urls_go_as_data_video_and_a_web_page_fails_with_its_reason(
    tmp_path: Path,
) -> None:
    fake = FakeClarifai(html_urls={"https://x.test/page.mp4"})
    sources = collect_sources(
        urls=["https://x.test/a.jpg", "https://x.test/clip.mp4", "https://x.test/page.mp4"]
    )
    events: list[UploadEvent] = []
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "state", events).run(sources)
    sent = [b["inputs"] for b in post_bodies(fake)]
    assert sorted(len(c) for c in sent) == [1, 1, 1]
    kinds = {c[0]["data"].get("video", c[0]["data"].get("image"))["url"]: c for c in sent}
    assert "image" in kinds["https://x.test/a.jpg"][0]["data"]
    assert "video" in kinds["https://x.test/clip.mp4"][0]["data"]
    assert [name(r.label) for r in summary.uploaded] == ["a.jpg", "clip.mp4"]
    [failed] = summary.failed
    assert failed.label == "https://x.test/page.mp4"
    assert "web page (text/html), not a video" in failed.reason
    assert any(isinstance(e, ItemEvent) and e.reason == failed.reason for e in events)


async def test_upload_command_takes_videos(tmp_path: Path) -> None:
    folder = tmp_path / "media"
    make_files(folder, 2)
    write_videos(folder, 1)
    (folder / "audio.mp4").write_bytes(audio_only_mp4())
    fake = FakeClarifai()
    out, err = io.StringIO(), io.StringIO()
    async with fake_client(fake) as client:
        status = await run_upload_command(
            client, parse([str(folder)]), tmp_path / "state", out=out, err=err
        )
    text = out.getvalue()
    assert status == 1
    assert text.startswith("uploaded: 3, already present: 0, failed: 1")
    assert "audio.mp4: the file has no video stream" in text
    assert fake.post_calls == 2
    # only videos, all good: 0
    only = tmp_path / "only"
    write_videos(only, 2)
    async with fake_client(fake) as client:
        status = await run_upload_command(
            client, parse([str(only)]), tmp_path / "state", out=io.StringIO(), err=err
        )
    assert status == 0


async def test_the_demo_videos_are_short_small_the_same_each_time_and_go_up_as_videos(
    tmp_path: Path,
) -> None:
    from api.demo import DEMO_VIDEOS, VIDEO_SIDE, iter_digits, iter_videos
    from api.demo_setup import _write_new_videos
    from api.video import probe

    images = list(iter_digits(200))
    videos = list(iter_videos(images))
    assert [v.digits for v in videos] == list(DEMO_VIDEOS)
    assert [v.mp4 for v in iter_videos(images)] == [v.mp4 for v in videos]  # deterministic
    for video in videos:
        info = probe(video.mp4)
        assert (info.width, info.height) == (VIDEO_SIDE, VIDEO_SIDE)
        assert info.duration_seconds == len(video.digits)
        assert len(video.mp4) < 20_000
    folder = tmp_path / "demo-new-images"
    assert _write_new_videos(folder, videos) == 3
    assert _write_new_videos(folder, videos) == 0
    fake = FakeClarifai()
    async with make_client(fake) as client:
        summary = await uploader(client, tmp_path / "state").run(collect_sources([folder]))
    assert summary.ok and len(summary.uploaded) == 3 and fake.post_calls == 3
    assert {s.kind for s in fake.inputs.values()} == {"video"}
