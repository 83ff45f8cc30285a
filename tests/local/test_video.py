"""Issue #27: video inputs on the embedded backend.

A video is ``data.video`` (bytes or a URL), sampled at its app's ``sample_ms`` (1,000 unless
set, as on the platform); predictions and dry runs on it carry ``data.frames`` with
``frame_info {index, time}``; the default workflow's writers write frame-level annotations.
The "Done when" runs with the official clarifai_grpc JSON client against ``serve``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2
from PIL import Image

from api import video
from api.autoannotate import WizardSpec, apply_models, apply_workflow, plan, train_and_wait
from api.client import ClarifaiClient
from api.demo import iter_digits
from api.local.backend import LocalBackend
from api.local.imaging import IngestLimits
from api.local.nodes.types import DEFAULT_EMBEDDER
from api.local.video_analysis import analyse_video
from api.models import AnnotationStatus, Concept, NewInput
from tests.local.conftest import APP, b64, make_backend, parse
from tests.local.digits import public_embed
from tests.local.test_conformance import served

OK = status_code_pb2.SUCCESS


def colour_video(seconds: int = 4, fps: int = 5, size: tuple[int, int] = (64, 48)) -> bytes:
    """A video whose colour changes every frame (so every sampled frame differs)."""
    frames = [
        Image.new("RGB", size, ((i * 37) % 256, (i * 91) % 256, 120)) for i in range(seconds * fps)
    ]
    return video.encode(frames, fps=fps)


def audio_only() -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as muxer:
        stream = muxer.add_stream("aac", rate=8000)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = 8000
        for _ in range(4):
            for packet in stream.encode(frame):  # type: ignore[arg-type]
                muxer.mux(packet)
        for packet in stream.encode(None):  # type: ignore[arg-type]
            muxer.mux(packet)
    return out.getvalue()


async def transport_get(transport: httpx.AsyncBaseTransport, path: str) -> dict[str, Any]:
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://local",
        headers={"Authorization": "Key test-key"},
    ) as raw:
        r = await raw.get(path)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def video_input(ident: str, data: bytes) -> dict[str, Any]:
    return {"id": ident, "data": {"video": {"base64": b64(data)}}}


# -- the "Done when", with the official client ---------------------------------------------------


def test_official_client_posts_videos_and_dry_runs_their_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    uai = resources_pb2.UserAppIDSet(user_id="me", app_id="vids")
    mp4 = colour_video(seconds=4)
    with served(tmp_path / "data") as (url, key, _):
        stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_json_channel(base_url=url))
        md = (("authorization", f"Key {key}"),)
        r = stub.PostApps(
            service_pb2.PostAppsRequest(
                user_app_id=resources_pb2.UserAppIDSet(user_id="me"),
                apps=[resources_pb2.App(id="vids")],
            ),
            metadata=md,
        )
        assert r.status.code == OK, r.status
        # One video a request, as on the platform.
        for ident, data in (("clip", mp4), ("broken", mp4[: len(mp4) // 3])):
            r = stub.PostInputs(
                service_pb2.PostInputsRequest(
                    user_app_id=uai,
                    inputs=[
                        resources_pb2.Input(
                            id=ident,
                            data=resources_pb2.Data(video=resources_pb2.Video(base64=data)),
                        )
                    ],
                ),
                metadata=md,
            )
            assert r.status.code == OK, r.status
        inputs = _wait_settled(stub, md, uai, {"clip", "broken"})
        clip, broken = inputs["clip"], inputs["broken"]
        assert clip.status.code == status_code_pb2.INPUT_DOWNLOAD_SUCCESS, clip.status
        assert clip.data.video.video_info.duration_seconds == pytest.approx(4.0, abs=0.3)
        assert (clip.data.video.video_info.width, clip.data.video.video_info.height) == (64, 48)
        assert clip.data.video.thumbnail_url
        assert broken.status.code == status_code_pb2.INPUT_DOWNLOAD_FAILED
        assert "broken" in broken.status.description, broken.status.description

        embed = public_embed()
        node = resources_pb2.WorkflowNode(
            id="embed",
            model=resources_pb2.Model(
                id=embed["model"]["id"],
                user_id="clarifai",
                app_id="main",
                model_version=resources_pb2.ModelVersion(id=embed["model"]["model_version"]["id"]),
            ),
        )
        r = stub.PostWorkflows(
            service_pb2.PostWorkflowsRequest(
                user_app_id=uai, workflows=[resources_pb2.Workflow(id="embed-only", nodes=[node])]
            ),
            metadata=md,
        )
        assert r.status.code == OK, r.status
        for item in (
            resources_pb2.Input(data=resources_pb2.Data(video=resources_pb2.Video(base64=mp4))),
            resources_pb2.Input(id="clip"),
        ):
            r = stub.PostWorkflowResults(
                service_pb2.PostWorkflowResultsRequest(
                    user_app_id=uai, workflow_id="embed-only", inputs=[item]
                ),
                metadata=md,
            )
            assert r.status.code == OK, r.status
            (output,) = r.results[0].outputs
            frames = output.data.frames
            assert len(frames) >= 3
            times = [f.frame_info.time for f in frames]
            assert times == sorted(times) and times[:3] == [0, 1000, 2000]
            assert [f.frame_info.index for f in frames] == list(range(len(frames)))
            for frame in frames:
                (embedding,) = frame.data.embeddings
                assert embedding.num_dimensions == len(embedding.vector) > 0
            # Frames that look different embed differently.
            assert frames[0].data.embeddings[0].vector != frames[2].data.embeddings[0].vector
        # Nothing was written by the dry runs.
        r = stub.ListAnnotations(
            service_pb2.ListAnnotationsRequest(user_app_id=uai, list_all_annotations=True),
            metadata=md,
        )
        assert r.status.code == OK and not r.annotations

        # PostModelOutputs on a video: the public embedder per frame.
        r = stub.PostModelOutputs(
            service_pb2.PostModelOutputsRequest(
                user_app_id=resources_pb2.UserAppIDSet(user_id="clarifai", app_id="main"),
                model_id=embed["model"]["id"],
                inputs=[
                    resources_pb2.Input(
                        data=resources_pb2.Data(video=resources_pb2.Video(base64=mp4))
                    )
                ],
            ),
            metadata=md,
        )
        assert r.status.code == OK, r.status
        assert len(r.outputs[0].data.frames) == 4


def _wait_settled(
    stub: service_pb2_grpc.V2Stub,
    md: tuple[tuple[str, str], ...],
    uai: resources_pb2.UserAppIDSet,
    ids: set[str],
) -> dict[str, resources_pb2.Input]:
    import time

    deadline = time.monotonic() + 30
    while True:
        r = stub.ListInputs(
            service_pb2.ListInputsRequest(user_app_id=uai, per_page=100), metadata=md
        )
        assert r.status.code == OK, r.status
        found = {i.id: i for i in r.inputs if i.id in ids}
        if len(found) == len(ids) and all(
            i.status.code not in (30001, 30003) for i in found.values()
        ):
            return found
        assert time.monotonic() < deadline, [i.status for i in found.values()]
        time.sleep(0.05)


# -- the backend in-process ----------------------------------------------------------------------


def small_limits(**changes: Any) -> IngestLimits:
    base = IngestLimits(max_bytes=2_000_000, max_pixels=4_000_000, url_timeout=2.0)
    return IngestLimits(**{**base.__dict__, **changes}) if changes else base


async def _started(tmp_path: Path, **limits: Any) -> LocalBackend:
    backend = make_backend(tmp_path / "data", limits=small_limits(**limits))
    await backend.start()
    return backend


def _client(backend: LocalBackend) -> httpx.AsyncClient:
    from tests.local.conftest import client_for

    return client_for(backend)


async def _inputs(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    r = await client.get(f"{APP}/inputs", params={"per_page": 100})
    assert r.status_code == 200, r.text
    return {i["id"]: i for i in r.json()["inputs"]}


async def test_bad_videos_each_fail_with_their_reason_and_spare_the_rest(tmp_path: Path) -> None:
    backend = await _started(tmp_path, max_video_seconds=3.0)
    try:
        async with _client(backend) as client:
            r = await client.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
            assert r.status_code == 200, r.text
            good = colour_video(seconds=2)
            cases = {
                "good": good,
                "truncated": good[: len(good) // 2],
                "audio": audio_only(),
                "long": colour_video(seconds=5, fps=2),
                "html": b"<!DOCTYPE html><html><body>Not Found</body></html>",
            }
            for ident, data in cases.items():
                r = await client.post(f"{APP}/inputs", json={"inputs": [video_input(ident, data)]})
                assert r.status_code == 200, r.text
                parse(r.json(), service_pb2.MultiInputResponse)
            await backend.ingest.wait_idle(60)
            found = await _inputs(client)
    finally:
        await backend.stop()
    status = {
        k: (v["status"]["code"], v["status"].get("description", "")) for k, v in found.items()
    }
    assert status["good"][0] == 30000
    reasons = {
        "truncated": "cut short or broken",
        "audio": "no video stream",
        "long": "the platform takes videos up to 3.0 s",
        "html": "HTML page",
    }
    for ident, words in reasons.items():
        code, description = status[ident]
        assert code == 30002, (ident, status[ident])
        assert words in description, (ident, description)
    assert found["good"]["data"]["video"]["video_info"]["duration_seconds"] == pytest.approx(2.0)


async def test_a_request_holds_one_video_as_on_the_platform(tmp_path: Path) -> None:
    backend = await _started(tmp_path)
    try:
        async with _client(backend) as client:
            await client.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
            clip = colour_video(seconds=1)
            r = await client.post(
                f"{APP}/inputs",
                json={"inputs": [video_input("a", clip), video_input("b", colour_video(2))]},
            )
            assert r.status_code == 400, r.text
            assert "1 video a PostInputs request" in r.text
            assert await _inputs(client) == {}
            # Empty bytes are no video at all (proto3 cannot tell them from none).
            r = await client.post(f"{APP}/inputs", json={"inputs": [video_input("e", b"")]})
            assert r.status_code == 400 and "a video is required" in r.text
    finally:
        await backend.stop()


async def test_sample_ms_of_the_app_sets_the_sampled_frames(tmp_path: Path) -> None:
    backend = await _started(tmp_path)
    try:
        async with _client(backend) as client:
            r = await client.post(
                "/v2/users/me/apps", json={"apps": [{"id": "app", "sample_ms": 50}]}
            )
            assert r.status_code == 400 and "sample_ms" in r.text
            r = await client.post(
                "/v2/users/me/apps", json={"apps": [{"id": "app", "sample_ms": 500}]}
            )
            assert r.status_code == 200, r.text
            assert r.json()["apps"][0]["sample_ms"] == 500
            clip = colour_video(seconds=2)
            workflow = {"id": "embed-only", "nodes": [public_embed()]}
            r = await client.post(f"{APP}/workflows", json={"workflows": [workflow]})
            assert r.status_code == 200, r.text

            async def frame_times() -> list[int]:
                r = await client.post(
                    f"{APP}/workflows/embed-only/results",
                    json={"inputs": [{"data": {"video": {"base64": b64(clip)}}}]},
                )
                assert r.status_code == 200, r.text
                frames = r.json()["results"][0]["outputs"][0]["data"]["frames"]
                return [f["frame_info"].get("time", 0) for f in frames]

            assert await frame_times() == [0, 500, 1000, 1500]
            r = await client.patch(
                "/v2/users/me/apps",
                json={"apps": [{"id": "app", "sample_ms": 1000}], "action": "overwrite"},
            )
            assert r.status_code == 200, r.text
            assert await frame_times() == [0, 1000]
    finally:
        await backend.stop()


def test_a_long_video_is_sampled_without_being_held(tmp_path: Path) -> None:
    """From a file, frame by frame: only the sampled frames' vectors are kept."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(colour_video(seconds=6, fps=10, size=(320, 240)))
    analysed = analyse_video(str(path), IngestLimits(), DEFAULT_EMBEDDER, 1000)
    assert analysed.ok, analysed.error
    assert [f.time_ms for f in analysed.frames] == [0, 1000, 2000, 3000, 4000, 5000]
    assert analysed.info is not None and analysed.info["frame_count"] == 60
    assert analysed.thumbnail is not None
    assert max(Image.open(io.BytesIO(analysed.thumbnail)).size) <= IngestLimits().thumb_size


# -- the whole auto-annotation on a video --------------------------------------------------------


def digit_video(concepts: tuple[str, ...]) -> tuple[bytes, list[str]]:
    """One second of each of a few digits (scaled up, as a camera would see them), and the
    concept shown in each second."""
    shown: list[str] = []
    frames: list[Image.Image] = []
    wanted = list(concepts) * 2
    for image in iter_digits(400):
        if image.concept == wanted[len(shown) % len(wanted)] and len(shown) < len(wanted):
            shown.append(image.concept)
            frame = Image.open(io.BytesIO(image.png)).convert("RGB").resize((64, 64))
            frames.extend([frame] * 4)
        if len(shown) == len(wanted):
            break
    return video.encode(frames, fps=4, codec="libx264"), shown


async def test_the_default_workflow_writes_frame_level_annotations(tmp_path: Path) -> None:
    concepts = ("zero", "one", "two")
    backend = make_backend(tmp_path / "data", limits=small_limits())
    await backend.start()
    try:
        transport = httpx.ASGITransport(app=backend.app)
        client = ClarifaiClient(
            base_url="http://local", api_key="test-key", user_id="me", transport=transport
        )
        async with client:
            await client.create_app("app")
            app = client.with_app("app")
            await app.create_concepts([Concept(c, name=c) for c in concepts])
            labelled = [d for d in iter_digits(400) if d.concept in concepts][:90]
            results = await app.post_inputs(
                [NewInput(data=d.png, concepts=(Concept(d.concept),)) for d in labelled]
            )
            assert all(r.ok for r in results)
            # A video labelled as a whole: the classifier learns from images, so training
            # counts it as skipped (without reading its bytes).
            (labelled_video,) = await app.post_inputs(
                [NewInput(data=colour_video(2), video=True, concepts=(Concept("one"),))]
            )
            assert labelled_video.ok, labelled_video.reason
            await backend.ingest.wait_idle(60)
            spec = WizardSpec(concepts=concepts, annotation_user_id="me", high=0.9, low=0.2)
            the_plan = plan(spec, {}, set())
            pinned = await apply_models(app, the_plan, lambda _: None)
            version = await train_and_wait(
                app, spec.model_id("classify"), [Concept(c, name=c) for c in concepts], poll=0.05
            )
            r = await transport_get(
                transport, f"{APP}/models/{spec.model_id('classify')}/versions/{version.id}"
            )
            training = r["model_version"]["metadata"]["training"]
            assert training["skipped_inputs"] == 1
            workflow = await apply_workflow(app, the_plan, version.id, pinned)
            await app.set_default_workflow(workflow.id)

            clip, shown = digit_video(concepts)
            (posted,) = await app.post_inputs([NewInput(data=clip, video=True, id="digits")])
            assert posted.ok, posted.reason
            await backend.ingest.wait_idle(60)
            (got,) = await app.list_inputs(ids=["digits"])
            assert got.is_video and got.status_code == 30000, got.status_description
            assert got.video is not None and got.video.duration_seconds == pytest.approx(6.0)
            annotations = [
                a
                async for a in app.iter_annotations(list_all_annotations=True)
                if a.input_id == "digits"
            ]
    finally:
        await backend.stop()
    assert annotations, "the writers wrote nothing on the video"
    assert all(a.frame is not None for a in annotations)
    statuses = {a.status_code for a in annotations}
    assert statuses <= {AnnotationStatus.SUCCESS, AnnotationStatus.PENDING}
    assert AnnotationStatus.SUCCESS in statuses
    # A confident frame's label is the digit that second shows.
    right = sum(
        1
        for a in annotations
        if a.status_code == AnnotationStatus.SUCCESS
        and a.frame is not None
        and {c.id for c in a.concepts} == {shown[a.frame.time_ms // 1000]}
    )
    success = sum(1 for a in annotations if a.status_code == AnnotationStatus.SUCCESS)
    assert right >= success * 0.8, [(a.frame, a.concepts, a.status_code) for a in annotations]
