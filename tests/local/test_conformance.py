"""`python -m api.local.serve` on an ephemeral loopback port, driven by the official client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

from api.local.serve import main
from tests.local.conftest import image_bytes
from tests.local.http_server import serve_files

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore:label\\(\\) is deprecated:DeprecationWarning")
OK = status_code_pb2.SUCCESS


@contextmanager
def served(data_dir: Path, *extra: str) -> Iterator[tuple[str, str | None, subprocess.Popen[str]]]:
    """Start the server; yield (base_url, generated key or None, process)."""
    env = {k: v for k, v in os.environ.items() if k != "CLARIFAI_PAT"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.local.serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        key = None
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        while True:
            line = proc.stdout.readline()
            assert line, (
                f"server exited: {proc.wait(5)} {proc.stderr.read() if proc.stderr else ''}"
            )
            assert time.monotonic() < deadline
            if "generated API key" in line:
                key = line.split("generated API key ", 1)[1].split()[0]
            if "listening on" in line:
                assert line.startswith("clarifai-tui serve: listening on http://127.0.0.1:")
                assert f"(data: {data_dir.resolve()})" in line
                url = line.split("listening on ", 1)[1].split()[0]
                break
        yield url, key, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)


def wait_processed(
    stub: service_pb2_grpc.V2Stub,
    md: tuple[tuple[str, str], ...],
    uai: resources_pb2.UserAppIDSet,
    count: int,
) -> None:
    deadline = time.monotonic() + 15
    while True:
        r = stub.GetInputCount(service_pb2.GetInputCountRequest(user_app_id=uai), metadata=md)
        assert r.status.code == OK, r.status
        if r.counts.processed + r.counts.errors >= count:
            assert r.counts.errors == 0
            return
        assert time.monotonic() < deadline, r.counts
        time.sleep(0.05)


def list_all_inputs(
    stub: service_pb2_grpc.V2Stub, md: tuple[tuple[str, str], ...], uai: resources_pb2.UserAppIDSet
) -> list[resources_pb2.Input]:
    out: list[resources_pb2.Input] = []
    page = 1
    while True:
        r = stub.ListInputs(
            service_pb2.ListInputsRequest(user_app_id=uai, page=page, per_page=2), metadata=md
        )
        assert r.status.code == OK, r.status
        if not r.inputs:
            return out
        out.extend(r.inputs)
        page += 1


def test_official_client_against_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    data = tmp_path / "data"
    png = image_bytes("PNG", size=(20, 20), color=(0, 90, 200))
    uai = resources_pb2.UserAppIDSet(user_id="me", app_id="conf")
    with (
        serve_files({"/remote.png": png}) as files,
        served(data, "--allow-private-urls") as (
            url,
            key,
            proc,
        ),
    ):
        assert key and (data / "api_key").read_text().strip() == key
        stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_json_channel(base_url=url))
        md = (("authorization", f"Key {key}"),)

        bad = stub.ListApps(
            service_pb2.ListAppsRequest(user_app_id=uai), metadata=(("authorization", "Key wrong"),)
        )
        assert bad.status.code == status_code_pb2.CONN_KEY_INVALID

        r = stub.PostApps(
            service_pb2.PostAppsRequest(
                user_app_id=resources_pb2.UserAppIDSet(user_id="me"),
                apps=[resources_pb2.App(id="conf", name="Conformance")],
            ),
            metadata=md,
        )
        assert r.status.code == OK, r.status
        assert r.apps[0].id == "conf"

        r = stub.PostConcepts(
            service_pb2.PostConceptsRequest(
                user_app_id=uai,
                concepts=[
                    resources_pb2.Concept(id="blue", name="Blue"),
                    resources_pb2.Concept(id="red"),
                ],
            ),
            metadata=md,
        )
        assert r.status.code == OK, r.status

        inputs = [
            resources_pb2.Input(
                id=f"b{n}",
                data=resources_pb2.Data(
                    image=resources_pb2.Image(base64=image_bytes("JPEG", color=(n * 40, 0, 0))),
                    concepts=[resources_pb2.Concept(id="red", value=1.0)] if n % 2 else [],
                ),
            )
            for n in range(4)
        ]
        inputs.append(
            resources_pb2.Input(
                id="u0",
                data=resources_pb2.Data(image=resources_pb2.Image(url=f"{files}/remote.png")),
            )
        )
        r = stub.PostInputs(
            service_pb2.PostInputsRequest(user_app_id=uai, inputs=inputs), metadata=md
        )
        assert r.status.code == OK, r.status
        assert [i.status.code for i in r.inputs] == [status_code_pb2.INPUT_DOWNLOAD_PENDING] * 5

        dup = stub.PostInputs(
            service_pb2.PostInputsRequest(user_app_id=uai, inputs=inputs[:1]), metadata=md
        )
        assert dup.status.code == status_code_pb2.MIXED_STATUS
        assert dup.inputs[0].status.code == status_code_pb2.INPUT_DUPLICATE

        wait_processed(stub, md, uai, 5)
        r = stub.GetInput(service_pb2.GetInputRequest(user_app_id=uai, input_id="u0"), metadata=md)
        assert r.input.status.code == status_code_pb2.INPUT_DOWNLOAD_SUCCESS
        assert r.input.data.image.image_info.width == 20

        r = stub.PostAnnotations(
            service_pb2.PostAnnotationsRequest(
                user_app_id=uai,
                annotations=[
                    resources_pb2.Annotation(
                        input_id="u0",
                        data=resources_pb2.Data(
                            concepts=[resources_pb2.Concept(id="blue", value=1.0)]
                        ),
                    )
                ],
            ),
            metadata=md,
        )
        assert r.status.code == OK, r.status
        ann_id = r.annotations[0].id

        r = stub.PatchAnnotations(
            service_pb2.PatchAnnotationsRequest(
                user_app_id=uai,
                action="merge",
                annotations=[
                    resources_pb2.Annotation(
                        id=ann_id,
                        input_id="u0",
                        status=status_pb2.Status(code=status_code_pb2.ANNOTATION_PENDING),
                    )
                ],
            ),
            metadata=md,
        )
        assert r.status.code == OK, r.status
        assert r.annotations[0].status.code == status_code_pb2.ANNOTATION_PENDING

        r = stub.ListAnnotations(
            service_pb2.ListAnnotationsRequest(
                user_app_id=uai, input_ids=["u0", "b1"], list_all_annotations=True
            ),
            metadata=md,
        )
        assert r.status.code == OK, r.status
        assert {a.input_id for a in r.annotations} == {"u0", "b1"}

        listed = list_all_inputs(stub, md, uai)
        assert [i.id for i in listed] == ["u0", "b3", "b2", "b1", "b0"]
        assert {i.status.code for i in listed} == {status_code_pb2.INPUT_DOWNLOAD_SUCCESS}

        r = stub.PatchApps(
            service_pb2.PatchAppsRequest(
                user_app_id=resources_pb2.UserAppIDSet(user_id="me"),
                action="overwrite",
                apps=[resources_pb2.App(id="conf", default_workflow_id="later")],
            ),
            metadata=md,
        )
        assert r.status.code == status_code_pb2.WORKFLOW_DOES_NOT_EXIST, r.status
        assert "'later'" in r.status.description

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0

    with served(data) as (url, key, _):
        assert key is None  # printed once, when generated
        stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_json_channel(base_url=url))
        md = (("authorization", f"Key {(data / 'api_key').read_text().strip()}"),)
        listed = list_all_inputs(stub, md, uai)
        assert [i.id for i in listed] == ["u0", "b3", "b2", "b1", "b0"]
        r = stub.ListAnnotations(
            service_pb2.ListAnnotationsRequest(
                user_app_id=uai, statuses=[], list_all_annotations=True
            ),
            metadata=md,
        )
        assert len(r.annotations) == 3  # two input-level labels + the PENDING one
        r = stub.GetApp(service_pb2.GetAppRequest(user_app_id=uai), metadata=md)
        # created with no base workflow named: Universal of clarifai/main, as on the platform
        assert r.app.default_workflow_id == "Universal"
        assert (r.app.default_workflow.user_id, r.app.default_workflow.app_id) == (
            "clarifai",
            "main",
        )
        r = stub.ListConcepts(service_pb2.ListConceptsRequest(user_app_id=uai), metadata=md)
        assert {c.id for c in r.concepts} == {"blue", "red"}


def test_serve_refuses_remote_without_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path)]) == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_second_server_on_same_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with served(tmp_path / "d") as (url, _, proc):
        assert main(["--port", "0", "--data-dir", str(tmp_path / "d")]) == 1
        err = capsys.readouterr().err
        assert f"clarifai-tui serve (pid {proc.pid})" in err and url in err


def test_official_client_searches_inputs_and_annotations_across_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    uai = resources_pb2.UserAppIDSet(user_id="me", app_id="search")
    with served(tmp_path / "data") as (url, key, _proc):
        stub = service_pb2_grpc.V2Stub(ClarifaiChannel.get_json_channel(base_url=url))
        md = (("authorization", f"Key {key}"),)
        r = stub.PostApps(
            service_pb2.PostAppsRequest(
                user_app_id=resources_pb2.UserAppIDSet(user_id="me"),
                apps=[resources_pb2.App(id="search")],
            ),
            metadata=md,
        )
        assert r.status.code == OK, r.status
        pngs = [image_bytes("PNG", size=(8, 8), color=(i * 20, 0, 0)) for i in range(9)]
        r = stub.PostInputs(
            service_pb2.PostInputsRequest(
                user_app_id=uai,
                inputs=[
                    resources_pb2.Input(
                        id=f"in-{i}", data=resources_pb2.Data(image=resources_pb2.Image(base64=b))
                    )
                    for i, b in enumerate(pngs)
                ],
            ),
            metadata=md,
        )
        assert r.status.code == OK, r.status
        wait_processed(stub, md, uai, len(pngs))
        # Even inputs: a SUCCESS walker label; inputs 1, 3, 5, 7: a PENDING walker label.
        annotations = [
            resources_pb2.Annotation(
                input_id=f"in-{i}",
                data=resources_pb2.Data(concepts=[resources_pb2.Concept(id="walker", value=1)]),
                status=status_pb2.Status(
                    code=status_code_pb2.ANNOTATION_SUCCESS
                    if i % 2 == 0
                    else status_code_pb2.ANNOTATION_PENDING
                ),
            )
            for i in range(8)
        ]
        r = stub.PostAnnotations(
            service_pb2.PostAnnotationsRequest(user_app_id=uai, annotations=annotations),
            metadata=md,
        )
        assert r.status.code == OK, r.status

        def pages(call: object, request: type, annotation: resources_pb2.Annotation) -> list[str]:
            found: list[str] = []
            for page in range(1, 5):
                response = call(  # type: ignore[operator]
                    request(
                        user_app_id=uai,
                        searches=[
                            resources_pb2.Search(
                                query=resources_pb2.Query(
                                    filters=[resources_pb2.Filter(annotation=annotation)]
                                )
                            )
                        ],
                        pagination=service_pb2.Pagination(page=page, per_page=2),
                    ),
                    metadata=md,
                )
                assert response.status.code == OK, response.status
                found.extend(
                    hit.annotation.input_id if hit.annotation.id else hit.input.id
                    for hit in response.hits
                )
            return found

        success = resources_pb2.Annotation(
            status=status_pb2.Status(code=status_code_pb2.ANNOTATION_SUCCESS)
        )
        assert pages(stub.PostInputsSearches, service_pb2.PostInputsSearchesRequest, success) == [
            "in-6",
            "in-4",
            "in-2",
            "in-0",
        ]
        pending_walker = resources_pb2.Annotation(
            status=status_pb2.Status(code=status_code_pb2.ANNOTATION_PENDING),
            data=resources_pb2.Data(concepts=[resources_pb2.Concept(id="walker", value=1)]),
        )
        assert pages(
            stub.PostAnnotationsSearches, service_pb2.PostAnnotationsSearchesRequest, pending_walker
        ) == ["in-7", "in-5", "in-3", "in-1"]
        ranked = stub.PostInputsSearches(
            service_pb2.PostInputsSearchesRequest(
                user_app_id=uai,
                searches=[
                    resources_pb2.Search(
                        query=resources_pb2.Query(ranks=[resources_pb2.Rank(annotation=success)])
                    )
                ],
            ),
            metadata=md,
        )
        assert ranked.status.code == status_code_pb2.CONN_INVALID_REQUEST
        assert "query.ranks" in ranked.status.description
