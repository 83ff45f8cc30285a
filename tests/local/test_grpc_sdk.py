"""The unchanged official `clarifai` SDK against the embedded backend over loopback gRPC
(issue #28): apps, concepts, inputs with labels, counts, listings, a trained classifier's
and the public embedder's predictions, and a workflow's, through api/local/gateway.py."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from PIL import Image

from api.local.backend import LocalBackend
from api.local.gateway import start_grpc
from tests.screens.labelled_data import pick_digits

KEY = "sdk-grpc-test-key-0123456789"
T = TypeVar("T")


@pytest.fixture
async def grpc_port(tmp_path: Path) -> AsyncIterator[int]:
    backend = LocalBackend(tmp_path / "data", api_key=KEY)
    await backend.start()
    server, gateway, port = await start_grpc(backend.app, "127.0.0.1", 0)
    try:
        yield port
    finally:
        await server.stop(1)
        await gateway.aclose()
        await backend.stop()


async def in_thread(fn: Callable[[], T]) -> T:
    """The SDK blocks: run it beside the event loop that serves it."""
    return await asyncio.to_thread(fn)


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 24), colour).save(out, "PNG")
    return out.getvalue()


def sdk_walkthrough(port: int, folder: Path) -> dict[str, Any]:
    from clarifai.client.input import Inputs
    from clarifai.client.model import Model
    from clarifai.client.user import User
    from clarifai.client.workflow import Workflow
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc

    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    user = User(user_id="me", pat=KEY, base_url=base)
    app = user.create_app(app_id="sdk-app", base_workflow="Universal")
    app.create_concepts(["zero", "one"])
    out["concepts"] = sorted(c.id for c in app.list_concepts())

    inputs = app.inputs()
    digits = [d for d in pick_digits(12) if d.concept in ("zero", "one")]  # 24, as issue #28
    for n, digit in enumerate(digits):
        inputs.upload_from_bytes(input_id=f"d-{n}", image_bytes=digit.png, labels=[digit.concept])
    batch = Inputs.get_image_inputs_from_folder(str(folder))
    inputs.upload_inputs(batch)
    deadline = time.monotonic() + 60
    while app.get_input_count() < len(digits) + len(batch):
        assert time.monotonic() < deadline, "inputs never counted"
        time.sleep(0.1)
    out["count"] = app.get_input_count()
    out["listed"] = sorted(i.id for i in inputs.list_inputs())
    out["labels"] = sorted(
        {
            c.id
            for a in inputs.list_annotations(batch_input=inputs.list_inputs())
            for c in a.data.concepts
        }
    )

    app.create_model("digit-clf", model_type_id="embedding-classifier")
    # The SDK's model.train() needs its training-template YAML; a version with the concepts
    # in output_info (as the docs' own gRPC example) starts the same training.
    stub = service_pb2_grpc.V2Stub(
        ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=port)
    )
    started = stub.PostModelVersions(
        service_pb2.PostModelVersionsRequest(
            user_app_id=resources_pb2.UserAppIDSet(user_id="me", app_id="sdk-app"),
            model_id="digit-clf",
            model_versions=[
                resources_pb2.ModelVersion(
                    output_info=resources_pb2.OutputInfo(
                        data=resources_pb2.Data(
                            concepts=[
                                resources_pb2.Concept(id="zero"),
                                resources_pb2.Concept(id="one"),
                            ]
                        )
                    )
                )
            ],
        ),
        metadata=(("authorization", f"Key {KEY}"),),
    )
    assert started.status.code == 10000, started.status
    deadline = time.monotonic() + 90
    while True:
        version = next(
            iter(
                Model(
                    model_id="digit-clf", user_id="me", app_id="sdk-app", pat=KEY, base_url=base
                ).list_versions()
            )
        )
        if version.model_version.status.code == 21100:
            break
        assert version.model_version.status.code in (21103, 21101, 21102), version
        assert time.monotonic() < deadline, "training never ended"
        time.sleep(0.2)
    trained = Model(model_id="digit-clf", user_id="me", app_id="sdk-app", pat=KEY, base_url=base)
    prediction = trained.predict_by_bytes(digits[0].png, input_type="image")
    concepts = prediction.outputs[0].data.concepts
    out["predicted"] = concepts[0].id if concepts else ""
    out["truth"] = digits[0].concept

    embedder = Model(
        model_id="general-image-embedding",
        user_id="clarifai",
        app_id="main",
        pat=KEY,
        base_url=base,
    )
    embedded = embedder.predict_by_bytes(png((10, 200, 30)), input_type="image")
    out["embedding_dims"] = len(embedded.outputs[0].data.embeddings[0].vector)

    universal = Workflow(
        workflow_id="Universal", user_id="clarifai", app_id="main", pat=KEY, base_url=base
    )
    result = universal.predict_by_bytes(png((30, 30, 220)), input_type="image")
    out["workflow_outputs"] = len(result.results[0].outputs)
    return out


async def test_the_official_sdk_runs_its_common_flows_over_grpc(
    grpc_port: int, tmp_path: Path
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    for n in range(3):
        (folder / f"f-{n}.png").write_bytes(png((60 * n, 90, 120)))
    got = await in_thread(lambda: sdk_walkthrough(grpc_port, folder))
    labelled = sum(1 for d in pick_digits(12) if d.concept in ("zero", "one"))
    assert labelled == 24
    assert got["concepts"] == ["one", "zero"]
    assert got["count"] == labelled + 3
    assert len(got["listed"]) == labelled + 3
    assert got["labels"] == ["one", "zero"]
    assert got["predicted"] == got["truth"]
    assert got["embedding_dims"] > 0
    assert got["workflow_outputs"] >= 1


async def test_a_method_rest_lacks_is_unimplemented_and_auth_is_the_same(grpc_port: int) -> None:
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc

    def calls() -> tuple[Any, Any, grpc.StatusCode]:
        channel = ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=grpc_port)
        stub = service_pb2_grpc.V2Stub(channel)
        uai = resources_pb2.UserAppIDSet(user_id="me", app_id="nope")
        wrong = stub.ListConcepts(
            service_pb2.ListConceptsRequest(user_app_id=uai),
            metadata=(("authorization", "Key wrong-key-0123456789"),),
        )
        missing = stub.ListConcepts(
            service_pb2.ListConceptsRequest(user_app_id=uai),
            metadata=(("authorization", f"Key {KEY}"),),
        )
        try:
            stub.ListCloudProviders(
                service_pb2.ListCloudProvidersRequest(), metadata=(("authorization", f"Key {KEY}"),)
            )
        except grpc.RpcError as exc:
            code = exc.code()
        else:
            code = grpc.StatusCode.OK
        return wrong, missing, code

    wrong, missing, code = await in_thread(calls)
    assert wrong.status.code == 11008  # as REST: the key is refused
    assert missing.status.code != 10000 and "nope" in missing.status.description
    assert code == grpc.StatusCode.UNIMPLEMENTED


def test_serve_grpc_port_shares_the_data_with_rest(tmp_path: Path) -> None:
    """`serve --grpc-port 0`: the gRPC line follows the REST one; an app made over gRPC is
    there over REST (one process, one store)."""
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc

    from tests.faults.support import serve

    with serve(tmp_path / "data", key=KEY, extra=("--grpc-port", "0")) as served:
        assert served.proc.stdout is not None
        line = served.proc.stdout.readline()
        assert line.startswith("clarifai-tui serve: gRPC on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        stub = service_pb2_grpc.V2Stub(
            ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=port)
        )
        made = stub.PostApps(
            service_pb2.PostAppsRequest(
                user_app_id=resources_pb2.UserAppIDSet(user_id="me"),
                apps=[resources_pb2.App(id="over-grpc")],
            ),
            metadata=(("authorization", f"Key {KEY}"),),
        )
        assert made.status.code == 10000, made.status
        with served.client() as rest:
            got = rest.get("/v2/users/me/apps/over-grpc")
        assert got.status_code == 200 and got.json()["app"]["id"] == "over-grpc"


def _bad_requests() -> list[tuple[str, str, Any]]:
    """(case, method, request) of bad input, each to get the same status on both transports."""
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2

    uai = resources_pb2.UserAppIDSet(user_id="me", app_id="table")
    missing = resources_pb2.UserAppIDSet(user_id="me", app_id="no-such-app")
    image = resources_pb2.Image(base64=b"not an image at all")
    return [
        ("unknown app", "ListConcepts", service_pb2.ListConceptsRequest(user_app_id=missing)),
        (
            "bidi override in an input id",
            "PostInputs",
            service_pb2.PostInputsRequest(
                user_app_id=uai,
                inputs=[
                    resources_pb2.Input(id="evil\u202egpj", data=resources_pb2.Data(image=image))
                ],
            ),
        ),
        (
            "unknown model type",
            "PostModels",
            service_pb2.PostModelsRequest(
                user_app_id=uai, models=[resources_pb2.Model(id="m", model_type_id="no-such-type")]
            ),
        ),
        (
            "unknown model",
            "GetModel",
            service_pb2.GetModelRequest(user_app_id=uai, model_id="nope"),
        ),
        (
            "a workflow node on a missing model",
            "PostWorkflows",
            service_pb2.PostWorkflowsRequest(
                user_app_id=uai,
                workflows=[
                    resources_pb2.Workflow(
                        id="wf",
                        nodes=[
                            resources_pb2.WorkflowNode(
                                id="n", model=resources_pb2.Model(id="missing-model")
                            )
                        ],
                    )
                ],
            ),
        ),
        (
            "no inputs",
            "PostInputs",
            service_pb2.PostInputsRequest(user_app_id=uai),
        ),
        (
            "an annotation on a missing input",
            "PostAnnotations",
            service_pb2.PostAnnotationsRequest(
                user_app_id=uai, annotations=[resources_pb2.Annotation(input_id="ghost")]
            ),
        ),
    ]


def test_bad_input_gets_the_same_status_over_grpc_and_rest(tmp_path: Path) -> None:
    """Issue #28: one table of bad requests, sent through the official JSON client (REST) and
    the official gRPC stub to one `serve`: the same Clarifai status code each time."""
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc

    from tests.faults.support import serve

    with serve(tmp_path / "data", key=KEY, extra=("--grpc-port", "0")) as served:
        assert served.proc.stdout is not None
        port = int(served.proc.stdout.readline().rsplit(":", 1)[1])
        md = (("authorization", f"Key {KEY}"),)
        rest = service_pb2_grpc.V2Stub(ClarifaiChannel.get_json_channel(base_url=served.url))
        over_grpc = service_pb2_grpc.V2Stub(
            ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=port)
        )
        made = rest.PostApps(
            service_pb2.PostAppsRequest(
                user_app_id=resources_pb2.UserAppIDSet(user_id="me"),
                apps=[resources_pb2.App(id="table")],
            ),
            metadata=md,
        )
        assert made.status.code == 10000, made.status
        for case, method, request in _bad_requests():
            by_rest = getattr(rest, method)(request, metadata=md)
            by_grpc = getattr(over_grpc, method)(request, metadata=md)
            assert by_rest.status.code != 10000, (case, by_rest.status)
            assert by_grpc.status.code == by_rest.status.code, (
                case,
                by_rest.status,
                by_grpc.status,
            )
            assert by_grpc.status.description == by_rest.status.description, case


async def test_inputs_add_jobs_report_progress_over_grpc(grpc_port: int) -> None:
    """Issue #28: PostInputs with inputs_add_job_id (the SDK always sends one), then
    GetInputsAddJob counts its inputs as they are processed; ListInputsAddJobs lists it;
    CancelInputsAddJob stops what is left (here nothing) and says cancelled."""
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc

    def flow() -> tuple[Any, Any, Any, Any]:
        stub = service_pb2_grpc.V2Stub(
            ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=grpc_port)
        )
        md = (("authorization", f"Key {KEY}"),)
        me = resources_pb2.UserAppIDSet(user_id="me")
        assert (
            stub.PostApps(
                service_pb2.PostAppsRequest(user_app_id=me, apps=[resources_pb2.App(id="jobs")]),
                metadata=md,
            ).status.code
            == 10000
        )
        uai = resources_pb2.UserAppIDSet(user_id="me", app_id="jobs")
        images = [png((40 * n, 20, 200)) for n in range(4)] + [b"\xff\xd8\xff broken"]
        posted = stub.PostInputs(
            service_pb2.PostInputsRequest(
                user_app_id=uai,
                inputs_add_job_id="job-1",
                inputs=[
                    resources_pb2.Input(
                        id=f"j{n}", data=resources_pb2.Data(image=resources_pb2.Image(base64=b))
                    )
                    for n, b in enumerate(images)
                ],
            ),
            metadata=md,
        )
        assert posted.status.code == 10000, posted.status
        deadline = time.monotonic() + 60
        while True:
            job = stub.GetInputsAddJob(
                service_pb2.GetInputsAddJobRequest(user_app_id=uai, id="job-1"), metadata=md
            )
            progress = job.inputs_add_job.progress
            if progress.pending_count == 0 and progress.in_progress_count == 0:
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
        listed = stub.ListInputsAddJobs(
            service_pb2.ListInputsAddJobsRequest(user_app_id=uai), metadata=md
        )
        cancelled = stub.CancelInputsAddJob(
            service_pb2.CancelInputsAddJobRequest(user_app_id=uai, id="job-1"), metadata=md
        )
        missing = stub.GetInputsAddJob(
            service_pb2.GetInputsAddJobRequest(user_app_id=uai, id="no-such-job"), metadata=md
        )
        return job, listed, cancelled, missing

    job, listed, cancelled, missing = await in_thread(flow)
    progress = job.inputs_add_job.progress
    assert (progress.success_count, progress.failed_count) == (4, 1)
    assert job.inputs_add_job.status.code == 64002  # JOB_COMPLETED
    assert [j.id for j in listed.inputs_add_jobs] == ["job-1"]
    assert cancelled.inputs_add_job.status.code == 64004  # JOB_CANCELLED
    assert cancelled.inputs_add_job.progress.success_count == 4  # processed ones stay
    assert missing.status.code == 11101 and "no-such-job" in missing.status.description


def sdk_video(port: int) -> dict[str, Any]:
    from clarifai.client.model import Model
    from clarifai.client.user import User
    from clarifai.client.workflow import Workflow

    from tests.video_files import tiny_video

    base = f"http://127.0.0.1:{port}"
    clip = tiny_video(15, fps=5)  # 3 s: frames at 0, 1000 and 2000 ms
    user = User(user_id="me", pat=KEY, base_url=base)
    app = user.create_app(app_id="sdk-videos", base_workflow="Universal")
    inputs = app.inputs()
    inputs.upload_from_bytes(input_id="clip", video_bytes=clip)
    deadline = time.monotonic() + 60
    while True:
        (found,) = [i for i in inputs.list_inputs() if i.id == "clip"]
        if found.status.code != 30001:
            break
        assert time.monotonic() < deadline, found.status
        time.sleep(0.1)
    out: dict[str, Any] = {
        "status": found.status.code,
        "duration": found.data.video.video_info.duration_seconds,
    }
    embedder = Model(
        model_id="general-image-embedding",
        user_id="clarifai",
        app_id="main",
        pat=KEY,
        base_url=base,
    )
    predicted = embedder.predict_by_bytes(clip, input_type="video")
    out["model_frames"] = [f.frame_info.time for f in predicted.outputs[0].data.frames]
    universal = Workflow(
        workflow_id="Universal", user_id="clarifai", app_id="main", pat=KEY, base_url=base
    )
    result = universal.predict_by_bytes(clip, input_type="video")
    out["workflow_frames"] = [
        len(f.data.embeddings) for f in result.results[0].outputs[0].data.frames
    ]
    return out


async def test_the_official_sdk_uploads_and_predicts_videos_over_grpc(grpc_port: int) -> None:
    """Issue #27 through the SDK: a video input, then the public embedder and the base
    workflow Universal on a video, each answered per sampled frame."""
    out = await in_thread(lambda: sdk_video(grpc_port))
    assert out["status"] == 30000
    assert out["duration"] == pytest.approx(3.0)
    assert out["model_frames"] == [0, 1000, 2000]
    assert out["workflow_frames"] == [1, 1, 1]
