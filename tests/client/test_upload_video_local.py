"""Videos through the upload engine into the embedded backend (ASGI, in-process): the demo's
videos and a bad one beside images, processed, and a second run that sends nothing twice."""

from __future__ import annotations

from pathlib import Path

from api.client import ClarifaiClient
from api.demo import iter_digits, iter_videos
from api.demo_setup import _write_new_videos
from api.models import content_input_id
from api.upload import Uploader, UploadOptions, collect_sources
from tests.client.test_against_local import local, png
from tests.video_files import audio_only_mp4

__all__ = ["local"]  # the fixture


async def test_videos_upload_process_and_are_not_sent_twice(
    local: tuple[ClarifaiClient, object], tmp_path: Path
) -> None:
    client, _backend = local
    folder = tmp_path / "media"
    videos = list(iter_videos(list(iter_digits(100))))
    _write_new_videos(folder, videos)
    for i in range(3):
        (folder / f"img{i}.png").write_bytes(png(i))
    (folder / "audio.mp4").write_bytes(audio_only_mp4())
    options = UploadOptions(poll_interval=0.05, processing_timeout=120)
    sources = collect_sources([folder])
    first = await Uploader(client, state_dir=tmp_path / "s", options=options).run(sources)
    assert len(first.uploaded) == 6, first
    [failed] = first.failed
    assert failed.label.endswith("audio.mp4") and "no video stream" in failed.reason
    for video in videos:
        stored = await client.get_input(content_input_id(video.mp4))
        assert stored.is_video and stored.metadata.get("filename") == video.name
        assert stored.video is not None and stored.video.duration_seconds == 5
    again = await Uploader(client, state_dir=tmp_path / "fresh", options=options).run(sources)
    assert not again.uploaded and len(again.already_present) == 6
    counts = await client.get_input_count()
    assert counts.processed == 6
