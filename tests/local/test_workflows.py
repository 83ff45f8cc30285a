"""Workflows on the embedded backend: CRUD, validation, dry runs, the default workflow."""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from clarifai_grpc.grpc.api import service_pb2

from api.local.backend import LocalBackend
from tests.local.conftest import APP, b64, client_for, image_bytes, make_backend, parse
from tests.local.digits import (
    add_images,
    concepts,
    create_model,
    list_annotations,
    node,
    of,
    public_embed,
    train,
)

THREE = ("zero", "one", "two")


@pytest.fixture
async def trained(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[LocalBackend, httpx.AsyncClient, str]]:
    """An app with labelled digits, a trained classifier 'clf' and an embedder 'embed'."""
    backend = make_backend(tmp_path_factory.mktemp("wf") / "data")
    async with backend, client_for(backend) as c:
        await c.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
        await add_images(c, backend, of(THREE, 12))
        await create_model(c, "embed", "visual-embedder")
        await create_model(c, "clf", "embedding-classifier", data=concepts(*THREE))
        version = await train(c, "clf")
        assert version["status"]["code"] == 21100
        yield backend, c, version["id"]


def thresholder(concept_values: dict[str, float], comparator: Any) -> dict[str, Any]:
    return {
        "data": {"concepts": [{"id": k, "value": v} for k, v in concept_values.items()]},
        "params": {"concept_threshold_type": comparator},
    }


def writer(status: Any, user: str = "auto") -> dict[str, Any]:
    return {"params": {"annotation_status": status, "annotation_user_id": user}}


async def make_wizard_graph(c: httpx.AsyncClient, workflow_id: str = "auto") -> None:
    """DESIGN.md's seed graph: > 0.9 -> SUCCESS; (0.5, 0.9] -> PENDING."""
    high = dict.fromkeys(THREE, 0.9)
    low = dict.fromkeys(THREE, 0.5)
    await create_model(c, "confident", "concept-thresholder", **thresholder(high, 1))
    await create_model(c, "unsure", "concept-thresholder", **thresholder(low, "GREATER_THAN"))
    await create_model(c, "band", "concept-thresholder", **thresholder(high, 4.0))
    await create_model(c, "w-ok", "annotation-writer", **writer(24150.0))
    await create_model(c, "w-pending", "annotation-writer", **writer("ANNOTATION_PENDING"))
    nodes = [
        public_embed("embed"),
        node("classify", "clf", "embed"),
        node("confident", "confident", "classify"),
        node("write-success", "w-ok", "confident"),
        node("unsure", "unsure", "classify"),
        node("unsure-band", "band", "unsure"),
        node("write-pending", "w-pending", "unsure-band"),
    ]
    r = await c.post(f"{APP}/workflows", json={"workflows": [{"id": workflow_id, "nodes": nodes}]})
    assert r.status_code == 200, r.text


async def test_workflow_crud(client: httpx.AsyncClient) -> None:
    await create_model(client, "embed", "visual-embedder")
    await create_model(client, "clf", "embedding-classifier", data=concepts("a", "b"))
    # a model with no version cannot be a node (there is nothing to pin): issue #32
    nodes = [public_embed("e"), node("c", "clf", "e")]
    r = await client.post(f"{APP}/workflows", json={"workflows": [{"id": "wf", "nodes": nodes}]})
    assert r.status_code == 400 and "has no version yet" in r.json()["status"]["description"]
    r = await client.post(f"{APP}/models/clf/versions", json={})  # fails: nothing is labelled
    assert r.status_code == 200, r.text
    pinned = r.json()["model"]["model_version"]["id"]
    body = {
        "workflows": [
            {
                "id": "wf",
                "description": "two nodes",
                "nodes": [public_embed("e"), node("c", "clf", "e")],
            }
        ]
    }
    r = await client.post(f"{APP}/workflows", json=body)
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.MultiWorkflowResponse)
    wf = r.json()["workflows"][0]
    assert [n["id"] for n in wf["nodes"]] == ["e", "c"]
    assert wf["nodes"][1]["node_inputs"] == [{"node_id": "e"}]
    assert wf["nodes"][1]["model"]["model_type_id"] == "embedding-classifier"
    # a node sent without a version pins the model's latest, as on the platform
    assert wf["nodes"][1]["model"]["model_version"]["id"] == pinned
    r = await client.post(f"{APP}/workflows", json=body)
    assert r.status_code == 400 and "already exists" in r.json()["status"]["description"]
    r = await client.get(f"{APP}/workflows/wf")
    parse(r.json(), service_pb2.SingleWorkflowResponse)
    r = await client.get(f"{APP}/workflows")
    assert [w["id"] for w in r.json()["workflows"]] == ["wf"]
    r = await client.patch(
        f"{APP}/workflows",
        json={"workflows": [{"id": "wf", "nodes": [public_embed("e")]}], "action": "overwrite"},
    )
    assert r.status_code == 200, r.text
    assert [n["id"] for n in r.json()["workflows"][0]["nodes"]] == ["e"]
    assert r.json()["workflows"][0]["description"] == "two nodes"
    r = await client.patch(
        f"{APP}/workflows",
        json={"workflows": [{"id": "wf", "nodes": [node("c", "clf", "e")]}], "action": "merge"},
    )
    assert [n["id"] for n in r.json()["workflows"][0]["nodes"]] == ["e", "c"]

    # DeleteModel is refused while a workflow uses the model, and names the workflow
    r = await client.delete(f"{APP}/models/clf")
    assert r.status_code == 400
    assert "used by workflow 'wf'" in r.json()["status"]["description"]
    # DeleteWorkflow is refused while it is the app's default
    r = await client.patch(
        "/v2/users/me/apps", json={"apps": [{"id": "app", "default_workflow_id": "wf"}]}
    )
    assert r.status_code == 200, r.text
    r = await client.delete(f"{APP}/workflows/wf")
    assert r.status_code == 400
    assert "default workflow of app 'app'" in r.json()["status"]["description"]
    universal = {"id": "Universal", "user_id": "clarifai", "app_id": "main"}
    r = await client.patch(
        "/v2/users/me/apps", json={"apps": [{"id": "app", "default_workflow": universal}]}
    )
    assert r.status_code == 200
    r = await client.delete(f"{APP}/workflows/wf")
    assert r.status_code == 200
    r = await client.get(f"{APP}/workflows/wf")
    assert r.status_code == 404 and r.json()["status"]["code"] == 22102
    r = await client.delete(f"{APP}/models/clf")
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("nodes", "code", "needle"),
    [
        ([node("e", "ghost")], 21200, "model 'ghost', which does not exist"),
        ([node("e", "embed", version="v9")], 21200, "version 'v9'"),
        ([public_embed("e"), node("t", "thr", "nowhere")], 22107, "'nowhere', which is not"),
        (
            [public_embed("e"), node("t1", "thr", "t2"), node("t2", "thr", "t1")],
            22107,
            "cycle",
        ),
        ([node("t", "thr")], 22107, "would get the workflow's image"),
        ([public_embed("e"), node("w", "w", "e")], 22107, "gives embeddings"),
        ([public_embed("e"), public_embed("e")], 22104, "repeated: 'e'"),
        ([], 22104, "at least one node"),
    ],
)
async def test_invalid_graphs(
    client: httpx.AsyncClient, nodes: list[dict[str, Any]], code: int, needle: str
) -> None:
    await create_model(client, "embed", "visual-embedder")
    await create_model(client, "thr", "concept-thresholder", **thresholder({"a": 0.5}, 1))
    await create_model(client, "w", "annotation-writer", **writer(24150))
    r = await client.post(f"{APP}/workflows", json={"workflows": [{"id": "bad", "nodes": nodes}]})
    assert r.json()["status"]["code"] == code, r.json()
    assert needle in r.json()["status"]["description"]
    r = await client.get(f"{APP}/workflows")
    assert r.json().get("workflows", []) == []


async def test_dry_run_takes_at_most_32_inputs_as_on_the_platform(
    trained: tuple[LocalBackend, httpx.AsyncClient, str],
) -> None:
    _backend, c, _version = trained
    await make_wizard_graph(c)
    inputs = [{"id": f"d{of(THREE, 1)[0].index}"}] * 33
    r = await c.post(f"{APP}/workflows/auto/results", json={"inputs": inputs})
    assert r.status_code == 400
    status = r.json()["status"]
    assert status["code"] == 11102
    assert "33 items in one request; at most 32" in status["description"]
    assert "PostWorkflowResults" in status["description"]


async def test_dry_run_writes_nothing(
    trained: tuple[LocalBackend, httpx.AsyncClient, str],
) -> None:
    backend, c, version_id = trained
    await make_wizard_graph(c)
    before = await list_annotations(c)
    embeddings_before = backend.store._conn().execute("SELECT COUNT(*) FROM embeddings").fetchone()
    held_out = of(THREE, 4, skip=12)
    inputs: list[dict[str, Any]] = [{"data": {"image": {"base64": b64(d.png)}}} for d in held_out]
    inputs.append({"id": f"d{of(THREE, 1)[0].index}"})
    r = await c.post(f"{APP}/workflows/auto/results", json={"inputs": inputs})
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.PostWorkflowResultsResponse)
    body = r.json()
    assert body["workflow"]["id"] == "auto"
    assert len(body["results"]) == len(inputs)
    pending_or_success = 0
    for result in body["results"]:
        outputs = result["outputs"]
        assert result["status"]["code"] == 10000
        assert [o["model"]["id"] for o in outputs] == [
            "general-image-embedding",
            "clf",
            "confident",
            "w-ok",
            "unsure",
            "band",
            "w-pending",
        ]
        assert outputs[0]["data"]["embeddings"][0]["num_dimensions"] == 329
        predicted = {x["id"]: x["value"] for x in outputs[1]["data"]["concepts"]}
        assert outputs[1]["model"]["model_version"]["id"] == version_id
        assert {x["id"] for x in outputs[2]["data"].get("concepts", [])} == {
            k for k, v in predicted.items() if v > 0.9
        }
        assert {x["id"] for x in outputs[5]["data"].get("concepts", [])} == {
            k for k, v in predicted.items() if 0.5 < v <= 0.9
        }
        # writers show what they would write
        assert outputs[3]["data"].get("concepts", []) == outputs[2]["data"].get("concepts", [])
        pending_or_success += bool(outputs[3]["data"].get("concepts"))
        pending_or_success += bool(outputs[6]["data"].get("concepts"))
    assert pending_or_success >= 3
    assert await list_annotations(c) == before
    after = backend.store._conn().execute("SELECT COUNT(*) FROM embeddings").fetchone()
    assert after == embeddings_before
    inputs_after = (await c.get(f"{APP}/inputs", params={"per_page": 1000})).json()["inputs"]
    assert len(inputs_after) == 36

    # suppressed nodes are left out; a bad input fails alone
    r = await c.patch(
        f"{APP}/workflows",
        json={
            "workflows": [
                {"id": "auto", "nodes": [{**public_embed("embed"), "suppress_output": True}]}
            ],
            "action": "merge",
        },
    )
    assert r.status_code == 200, r.text
    r = await c.post(
        f"{APP}/workflows/auto/results",
        json={"inputs": [inputs[0], {"data": {"image": {"base64": b64(b"not an image")}}}]},
    )
    body = r.json()
    assert body["status"]["code"] == 10010
    assert len(body["results"][0]["outputs"]) == 6
    assert body["results"][1]["status"]["code"] == 30002
    r = await c.post(f"{APP}/workflows/ghost/results", json={"inputs": inputs[:1]})
    assert r.json()["status"]["code"] == 22102


async def test_each_comparator(trained: tuple[LocalBackend, httpx.AsyncClient, str]) -> None:
    _, c, _ = trained
    png = of(("one",), 1, skip=20)[0].png
    r = await c.post(
        f"{APP}/models/clf/outputs", json={"inputs": [{"data": {"image": {"base64": b64(png)}}}]}
    )
    predicted = {x["id"]: x["value"] for x in r.json()["outputs"][0]["data"]["concepts"]}
    top = max(predicted, key=lambda k: predicted[k])
    ops: dict[str, Callable[[float, float], bool]] = {
        "CONCEPT_THRESHOLD_NOT_SET": operator.ge,
        "GREATER_THAN": operator.gt,
        "GREATER_THAN_OR_EQUAL": operator.ge,
        "LESS_THAN": operator.lt,
        "LESS_THAN_OR_EQUAL": operator.le,
        "EQUAL": lambda a, b: abs(a - b) <= 1e-6,
    }
    # thresholds: the top concept's own value (so >= and == keep it, > and < do not)
    thresholds = dict.fromkeys(THREE, 0.2)
    thresholds[top] = predicted[top]
    nodes = [public_embed("e"), node("c", "clf", "e")]
    for number, name in enumerate(ops):
        await create_model(
            c, f"t{number}", "concept-thresholder", **thresholder(thresholds, float(number))
        )
        nodes.append(node(name, f"t{number}", "c"))
    r = await c.post(f"{APP}/workflows", json={"workflows": [{"id": "cmp", "nodes": nodes}]})
    assert r.status_code == 200, r.text
    r = await c.post(
        f"{APP}/workflows/cmp/results", json={"inputs": [{"data": {"image": {"base64": b64(png)}}}]}
    )
    outputs = r.json()["results"][0]["outputs"][2:]
    for (name, op), output in zip(ops.items(), outputs, strict=True):
        kept = {x["id"] for x in output["data"].get("concepts", [])}
        expected = {k for k, v in predicted.items() if op(v, thresholds[k])}
        assert kept == expected, (name, predicted, kept)
    assert top in {x["id"] for x in outputs[5]["data"]["concepts"]}  # EQUAL
    assert top not in {x["id"] for x in outputs[1]["data"].get("concepts", [])}  # GREATER_THAN


async def test_default_workflow_annotates_on_ingest(
    trained: tuple[LocalBackend, httpx.AsyncClient, str],
) -> None:
    backend, c, version_id = trained
    await make_wizard_graph(c)
    r = await c.patch(
        "/v2/users/me/apps", json={"apps": [{"id": "app", "default_workflow_id": "auto"}]}
    )
    assert r.status_code == 200, r.text
    new = of(THREE, 8, skip=12)
    ids = await add_images(c, backend, new, prefix="n", labelled=False)
    written = await list_annotations(c, **{"user_ids": "auto"})
    success = [a for a in written if a["status"]["code"] == 24150]
    pending = [a for a in written if a["status"]["code"] == 24151]
    assert success and pending, (len(success), len(pending))
    for annotation in success + pending:
        assert annotation["input_id"] in ids
        assert annotation["user_id"] == "auto"
        assert annotation["model_version_id"] == version_id
        assert len(annotation["data"]["concepts"]) == 1
    assert {a["status"]["code"] for a in success} == {24150}
    # SUCCESS annotations are almost always right
    truth = {f"n{d.index}": d.concept for d in new}
    right = sum(truth[a["input_id"]] == a["data"]["concepts"][0]["id"] for a in success)
    assert right >= len(success) - 1
    # the embedding computed at ingest is stored (and reused: one row per input)
    stored = backend.store._conn().execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert stored == 36 + len(new)
    r = await c.get(f"{APP}/inputs/{ids[0]}")
    assert "details" not in r.json()["input"]["status"]

    # clearing the default stops it: only inputs processed afterwards are affected
    before = len(await list_annotations(c))
    r = await c.patch(
        "/v2/users/me/apps",
        json={"apps": [{"id": "app", "default_workflow_id": "auto"}], "action": "remove"},
    )
    assert r.status_code == 200
    await add_images(c, backend, of(THREE, 2, skip=20), prefix="late", labelled=False)
    assert len(await list_annotations(c)) == before


async def test_failing_default_workflow_marks_inputs(
    backend: LocalBackend, client: httpx.AsyncClient
) -> None:
    await create_model(client, "embed", "visual-embedder")
    await create_model(client, "clf", "embedding-classifier", data=concepts("a", "b"))
    await create_model(client, "w", "annotation-writer", **writer(24150))
    version = await train(client, "clf")  # nothing is labelled: the version fails
    assert version["status"]["code"] == 21106
    nodes = [
        public_embed("embed"),
        node("classify", "clf", "embed"),
        node("write", "w", "classify"),
    ]
    r = await client.post(f"{APP}/workflows", json={"workflows": [{"id": "wf", "nodes": nodes}]})
    assert r.status_code == 200, r.text
    r = await client.patch(
        "/v2/users/me/apps", json={"apps": [{"id": "app", "default_workflow_id": "wf"}]}
    )
    assert r.status_code == 200
    images = [image_bytes(color=(n * 30, 10, 10)) for n in range(5)]
    r = await client.post(
        f"{APP}/inputs",
        json={
            "inputs": [
                {"id": f"i{n}", "data": {"image": {"base64": b64(d)}}} for n, d in enumerate(images)
            ]
        },
    )
    assert r.status_code == 200
    await backend.wait_idle(20)
    for n in range(5):
        status = (await client.get(f"{APP}/inputs/i{n}")).json()["input"]["status"]
        assert status["code"] == 30000  # the input itself is fine
        assert "default workflow failed" in status["details"]
        assert "node 'classify' failed (22002)" in status["details"]
        assert "is not trained (status 21106" in status["details"]
    assert await list_annotations(client) == []


async def test_default_workflow_embeds_once(
    backend: LocalBackend, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.local.nodes.embedder import HandcraftedEmbedder

    calls: list[int] = []  # images embedded (embed() goes through embed_many too)
    original = HandcraftedEmbedder.embed_many

    def counting(self: HandcraftedEmbedder, images: Any) -> Any:
        calls.extend(1 for _ in images)
        return original(self, images)

    monkeypatch.setattr(HandcraftedEmbedder, "embed_many", counting)
    backend.ingest.processes = 0  # embed in this process, where the counter is
    await create_model(client, "embed", "visual-embedder")
    r = await client.post(
        f"{APP}/workflows", json={"workflows": [{"id": "wf", "nodes": [public_embed("e")]}]}
    )
    assert r.status_code == 200
    await client.patch(
        "/v2/users/me/apps", json={"apps": [{"id": "app", "default_workflow_id": "wf"}]}
    )
    await client.post(
        f"{APP}/inputs",
        json={
            "inputs": [
                {"id": f"i{n}", "data": {"image": {"base64": b64(image_bytes(color=(n, 0, 0)))}}}
                for n in range(4)
            ]
        },
    )
    await backend.wait_idle(20)
    assert len(calls) == 4
    status = (await client.get(f"{APP}/inputs/i0")).json()["input"]["status"]
    assert "details" not in status
