"""Models, training and prediction on the embedded backend, with real digit images."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from clarifai_grpc.grpc.api import service_pb2

from api.local.backend import LocalBackend
from api.local.modelstore import MODEL_TRAINING
from api.local.public import EMBEDDER_VERSION
from tests.local.conftest import APP, b64, client_for, image_bytes, parse
from tests.local.digits import (
    add_images,
    concepts,
    create_model,
    digits,
    new_version,
    of,
    train,
    wait_version,
)

THREE = ("zero", "one", "two")


async def test_model_types(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{APP}/models/types")
    assert r.status_code == 200
    parse(r.json(), service_pb2.MultiModelTypeResponse)
    ids = [t["id"] for t in r.json()["model_types"]]
    assert ids == [
        "visual-embedder",
        "embedding-classifier",
        "concept-thresholder",
        "annotation-writer",
    ]
    r = await client.get(f"{APP}/models/types/concept-threshold")
    assert r.json()["model_type"]["id"] == "concept-thresholder"
    r = await client.get(f"{APP}/models/types/nope")
    assert r.json()["status"]["code"] == 21200


async def test_create_list_patch_delete(client: httpx.AsyncClient) -> None:
    embed = await create_model(client, "embed", "visual-embedder")
    # an app-local embedder gets no version: the platform runs clarifai/main's (issue #22)
    assert "model_version" not in embed
    clf = await create_model(client, "clf", "embedding-classifier", data=concepts("cat", "dog"))
    assert "model_version" not in clf
    thr = await create_model(
        client,
        "thr",
        "concept-threshold",  # the older name is accepted and stored as the new one
        data=concepts("cat", value=0.8),
        params={"concept_threshold_type": "GREATER_THAN"},
    )
    assert thr["model_type_id"] == "concept-thresholder"
    await create_model(
        client,
        "w",
        "annotation-writer",
        params={"annotation_status": 24151.0, "annotation_user_id": "bot"},
    )
    r = await client.get(f"{APP}/models", params={"model_type_id": "annotation-writer"})
    parse(r.json(), service_pb2.MultiModelResponse)
    assert [m["id"] for m in r.json()["models"]] == ["w"]
    r = await client.get(f"{APP}/models")
    assert [m["id"] for m in r.json()["models"]] == ["w", "thr", "clf", "embed"]
    r = await client.get(f"{APP}/models/clf")
    parse(r.json(), service_pb2.SingleModelResponse)
    # the classifier's concepts exist in the app now
    r = await client.get(f"{APP}/concepts/dog")
    assert r.status_code == 200

    # PatchModels changes model fields only; a configuration is a new version (issue #32)
    r = await client.patch(
        f"{APP}/models",
        json={
            "models": [{"id": "thr", "output_info": {"data": concepts("dog", value=0.3)}}],
            "action": "merge",
        },
    )
    assert r.status_code == 400 and r.json()["status"]["code"] == 21202
    assert "PostModelVersions" in r.json()["status"]["description"]
    r = await client.patch(f"{APP}/models", json={"models": [{"id": "thr", "name": "Sure"}]})
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.MultiModelResponse)
    assert r.json()["models"][0]["name"] == "Sure"
    first = thr["model_version"]["id"]
    second = await new_version(
        client,
        "thr",
        data=concepts("dog", value=0.3),
        params={"concept_threshold_type": "LESS_THAN"},
    )
    assert second["model_version"]["id"] != first
    assert second["model_version"]["status"]["code"] == 21100
    r = await client.get(f"{APP}/models/thr/versions")
    assert [v["id"] for v in r.json()["model_versions"]] == [second["model_version"]["id"], first]
    r = await client.get(f"{APP}/models/thr/output_info")
    info = r.json()["model"]["output_info"]
    assert {c["id"]: c["value"] for c in info["data"]["concepts"]} == {"dog": 0.3}
    assert info["params"]["concept_threshold_type"] == "LESS_THAN"
    r = await client.get(f"{APP}/models/thr/versions/{first}/output_info")
    info = r.json()["model"]["output_info"]
    assert {c["id"]: c["value"] for c in info["data"]["concepts"]} == {"cat": 0.8}
    r = await client.post(
        f"{APP}/models/w/versions",
        json={"model_versions": [{"output_info": {"params": {"annotation_status": "FAILED"}}}]},
    )
    assert r.status_code == 400
    assert "output_info.params.annotation_status" in r.json()["status"]["description"]
    r = await client.patch(
        f"{APP}/models",
        json={"models": [{"id": "w", "model_type_id": "visual-embedder"}]},
    )
    assert r.status_code == 400 and "cannot change" in r.json()["status"]["description"]

    r = await client.delete(f"{APP}/models/thr")
    assert r.status_code == 200
    r = await client.get(f"{APP}/models/thr")
    assert r.status_code == 404 and r.json()["status"]["code"] == 21200
    r = await client.delete(f"{APP}/models/thr")
    assert r.json()["status"]["code"] == 21200


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ({"id": "x"}, "model_type_id"),
        ({"id": "x", "model_type_id": "magic"}, "unknown model type 'magic'"),
        (
            {
                "id": "x",
                "model_type_id": "annotation-writer",
                "output_info": {"params": {"annotation_status": 24152}},
            },
            "24152 (ANNOTATION_FAILED) is not a status a writer can write",
        ),
        (
            {
                "id": "x",
                "model_type_id": "concept-thresholder",
                "output_info": {
                    "data": {"concepts": [{"id": "a", "value": 0.5}]},
                    "params": {"concept_threshold_type": "BIGGER"},
                },
            },
            "output_info.params.concept_threshold_type",
        ),
        (
            {
                "id": "x",
                "model_type_id": "visual-embedder",
                "output_info": {"params": {"embedder_id": "onnx-nope"}},
            },
            "unknown embedder 'onnx-nope'",
        ),
    ],
)
async def test_invalid_models_are_refused(
    client: httpx.AsyncClient, model: dict[str, Any], needle: str
) -> None:
    r = await client.post(f"{APP}/models", json={"model": model})
    assert r.status_code >= 400
    assert needle in r.json()["status"]["description"], r.json()


@pytest.mark.parametrize(
    ("type_id", "output_info", "needle"),
    [
        ("annotation-writer", {}, "output_info.params.annotation_status: missing"),
        (
            "annotation-writer",
            {"params": {"annotation_status": 24152}},
            "24152 (ANNOTATION_FAILED) is not a status a writer can write",
        ),
        ("concept-thresholder", {}, "at least one concept"),
        (
            "concept-thresholder",
            {"data": concepts("a", value=0.5), "params": {"concept_threshold_type": "BIGGER"}},
            "output_info.params.concept_threshold_type",
        ),
    ],
)
async def test_invalid_versions_are_refused(
    client: httpx.AsyncClient, type_id: str, output_info: dict[str, Any], needle: str
) -> None:
    """PostModels of a thresholder or writer takes no configuration (as the SDK sends it); its
    first version does, and a bad one is refused naming the field, leaving no version."""
    r = await client.post(f"{APP}/models", json={"model": {"id": "x", "model_type_id": type_id}})
    assert r.status_code == 200, r.text
    assert "model_version" not in r.json()["model"]
    body = {"model_versions": [{"output_info": output_info}]}
    r = await client.post(f"{APP}/models/x/versions", json=body)
    assert r.status_code == 400 and r.json()["status"]["code"] == 21202
    assert needle in r.json()["status"]["description"], r.json()
    r = await client.get(f"{APP}/models/x/versions")
    assert r.json()["model_versions"] == []


async def test_duplicate_model_id(client: httpx.AsyncClient) -> None:
    await create_model(client, "e", "visual-embedder")
    r = await client.post(
        f"{APP}/models", json={"model": {"id": "e", "model_type_id": "visual-embedder"}}
    )
    assert r.status_code == 400 and "already exists" in r.json()["status"]["description"]


async def test_train_and_predict(client: httpx.AsyncClient, backend: LocalBackend) -> None:
    await add_images(client, backend, of(THREE, 12))
    await create_model(client, "clf", "embedding-classifier", data=concepts(*THREE))
    r = await client.post(f"{APP}/models/clf/versions", json={})
    parse(r.json(), service_pb2.SingleModelResponse)
    first = r.json()["model"]["model_version"]
    assert first["status"]["code"] == 21103
    version = await wait_version(client, "clf", first["id"])
    assert version["status"]["code"] == 21100, version
    assert version["total_input_count"] == 36
    assert version["active_concept_count"] == 3
    assert version["metadata"]["training"]["mode"] == "exclusive"
    # it records the base workflow's embedder it was trained on (issue #22)
    embedder = version["metadata"]["training"]["embedder_model"]
    assert (embedder["user_id"], embedder["app_id"], embedder["id"]) == (
        "clarifai",
        "main",
        "general-image-embedding",
    )
    assert embedder["model_version"]["id"] == EMBEDDER_VERSION
    r = await client.get(f"{APP}/models/clf/versions/{version['id']}")
    parse(r.json(), service_pb2.SingleModelVersionResponse)
    r = await client.get(f"{APP}/models/clf/versions")
    parse(r.json(), service_pb2.MultiModelVersionResponse)
    assert [v["id"] for v in r.json()["model_versions"]] == [version["id"]]

    held_out = of(THREE, 5, skip=12)
    body = {
        "inputs": [{"data": {"image": {"base64": b64(d.png)}}} for d in held_out]
        + [{"id": "d" + str(of(THREE, 1)[0].index)}]
    }
    r = await client.post(f"{APP}/models/clf/outputs", json=body)
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.MultiOutputResponse)
    outputs = r.json()["outputs"]
    assert len(outputs) == len(held_out) + 1
    right = 0
    for image, output in zip(held_out, outputs, strict=False):
        values = output["data"]["concepts"]
        assert {c["id"] for c in values} == set(THREE)
        assert all(0.0 <= c["value"] <= 1.0 for c in values)
        assert abs(sum(c["value"] for c in values) - 1.0) < 1e-6  # exclusive: softmax
        right += values[0]["id"] == image.concept
        assert output["model"]["model_version"]["id"] == version["id"]
    assert right >= len(held_out) - 2
    r = await client.post(f"{APP}/models/clf/versions/{version['id']}/outputs", json=body)
    assert r.json()["status"]["code"] == 10000

    # an unknown input fails alone
    r = await client.post(
        f"{APP}/models/clf/outputs", json={"inputs": [{"id": "ghost"}, body["inputs"][0]]}
    )
    assert r.json()["status"]["code"] == 10010
    assert r.json()["outputs"][0]["status"]["code"] == 30102
    assert r.json()["outputs"][1]["status"]["code"] == 10000

    await create_model(client, "embed", "visual-embedder")
    r = await client.post(f"{APP}/models/embed/outputs", json=body)
    embedding = r.json()["outputs"][0]["data"]["embeddings"][0]
    assert embedding["num_dimensions"] == len(embedding["vector"]) == 329

    await create_model(client, "thr", "concept-thresholder", data=concepts("zero", value=0.5))
    r = await client.post(f"{APP}/models/thr/outputs", json=body)
    assert r.status_code == 400 and "run it in a workflow" in r.json()["status"]["description"]


async def test_a_version_trains_on_its_own_concepts(
    client: httpx.AsyncClient, backend: LocalBackend
) -> None:
    # As the docs and the SDK train: model_versions[0].output_info.data.concepts, not the
    # model's (deprecated) output_info. The model names three concepts, the version two.
    await add_images(client, backend, of(THREE, 6))
    await create_model(client, "clf", "embedding-classifier", data=concepts(*THREE))
    two = list(THREE[:2])
    body = {"model_versions": [{"output_info": {"data": {"concepts": [{"id": c} for c in two]}}}]}
    r = await client.post(f"{APP}/models/clf/versions", json=body)
    assert r.status_code == 200, r.text
    version = await wait_version(client, "clf", r.json()["model"]["model_version"]["id"])
    assert version["status"]["code"] == 21100, version
    assert version["active_concept_count"] == 2
    r = await client.get(f"{APP}/models/clf/versions/{version['id']}/output_info")
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.SingleModelResponse)
    assert [c["id"] for c in r.json()["model"]["output_info"]["data"]["concepts"]] == two
    # GetModel answers as the platform does: no configuration, where to read it instead.
    r = await client.get(f"{APP}/models/clf")
    info = r.json()["model"]["output_info"]
    assert "data" not in info and "GET /models/clf/output_info" in info["message"]
    assert "output_info" not in r.json()["model"]["model_version"]
    # the model's configuration is its latest version's (the model's own THREE is the default)
    r = await client.get(f"{APP}/models/clf/output_info")
    assert [c["id"] for c in r.json()["model"]["output_info"]["data"]["concepts"]] == two
    empty = {"model_versions": [{"output_info": {"data": {"concepts": []}}}]}
    r = await client.post(f"{APP}/models/clf/versions", json=empty)
    assert r.status_code == 400 and "at least one concept" in r.json()["status"]["description"]


async def test_training_right_after_labelling_waits_for_ingest(
    client: httpx.AsyncClient, backend: LocalBackend
) -> None:
    """Labels posted with their images, then PostModelVersions at once: the version trains on
    them, though their images are still being processed when it is queued."""
    gate = threading.Event()
    backend.ingest.processors.append(lambda ref, image: gate.wait(30) and None)
    images = of(THREE, 4)
    inputs = [
        {
            "id": f"d{image.index}",
            "data": {
                "image": {"base64": b64(image.png)},
                "concepts": [{"id": image.concept, "value": 1}],
            },
        }
        for image in images
    ]
    await create_model(client, "clf", "embedding-classifier", data=concepts(*THREE))
    assert (await client.post(f"{APP}/inputs", json={"inputs": inputs})).status_code == 200
    r = await client.post(f"{APP}/models/clf/versions", json={})
    assert r.status_code == 200, r.text
    gate.set()
    version = await wait_version(client, "clf", r.json()["model"]["model_version"]["id"])
    assert version["status"]["code"] == 21100, version
    assert version["total_input_count"] == len(images)


async def test_predict_untrained(client: httpx.AsyncClient) -> None:
    await create_model(client, "clf", "embedding-classifier", data=concepts("a", "b"))
    r = await client.post(
        f"{APP}/models/clf/outputs",
        json={"inputs": [{"data": {"image": {"base64": b64(image_bytes())}}}]},
    )
    assert r.json()["status"]["code"] == 22002
    assert "no trained version" in r.json()["status"]["description"]


async def test_training_failures(client: httpx.AsyncClient, backend: LocalBackend) -> None:
    await create_model(client, "lonely", "embedding-classifier", data=concepts("zero"))
    version = await train(client, "lonely")
    assert version["status"]["code"] == 21106
    assert "at least two concepts" in version["status"]["description"]

    await create_model(client, "nolabels", "embedding-classifier", data=concepts("zero", "one"))
    version = await train(client, "nolabels")
    assert version["status"]["code"] == 21106
    assert "label some inputs first" in version["status"]["description"]

    await add_images(client, backend, of(("zero",), 4))
    version = await train(client, "nolabels")
    assert version["status"]["code"] == 21106
    assert "fewer than two concepts have labelled inputs" in version["status"]["description"]

    # two positives on one input of a model declared mutually exclusive
    r = await client.patch(
        f"{APP}/inputs",
        json={
            "inputs": [{"id": f"d{of(('zero',), 1)[0].index}", "data": concepts("one")}],
            "action": "merge",
        },
    )
    assert r.status_code == 200, r.text
    await create_model(
        client,
        "excl",
        "embedding-classifier",
        data=concepts("zero", "one"),
        output_config={"concepts_mutually_exclusive": True},
    )
    version = await train(client, "excl")
    assert version["status"]["code"] == 21106
    assert "mutually exclusive" in version["status"]["description"]

    r = await client.post(f"{APP}/models/ghost/versions", json={})
    assert r.json()["status"]["code"] == 21200
    await create_model(client, "embed", "visual-embedder")
    r = await client.post(f"{APP}/models/embed/versions", json={})
    assert r.status_code == 400 and "cannot be trained" in r.json()["status"]["description"]
    assert "general-image-embedding" in r.json()["status"]["description"]
    await create_model(client, "thr0", "concept-thresholder", data=concepts("cat", value=0.5))
    # a thresholder's version needs its configuration; none on the version or the model
    r = await client.post(f"{APP}/models/thr0/versions", json={})
    assert r.status_code == 400 and "at least one concept" in r.json()["status"]["description"]


async def test_training_embeds_on_demand(client: httpx.AsyncClient, backend: LocalBackend) -> None:
    await add_images(client, backend, of(("zero", "one"), 6))
    with backend.store.write() as conn:
        conn.execute("DELETE FROM embeddings")
    await create_model(client, "clf", "embedding-classifier", data=concepts("zero", "one"))
    version = await train(client, "clf")
    assert version["status"]["code"] == 21100, version
    count = backend.store._conn().execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert count == 12


async def test_negative_labels_train_one_vs_rest(
    client: httpx.AsyncClient, backend: LocalBackend
) -> None:
    images = of(("zero", "one", "two"), 6)
    ids = await add_images(client, backend, images, labelled=False)
    annotations = []
    for ident, image in zip(ids, images, strict=True):
        labels = [{"id": "zero", "value": 1 if image.concept == "zero" else 0}]
        labels.append({"id": "one", "value": 1 if image.concept == "one" else 0})
        if image.concept == "two":  # two positives on some inputs: multi-label data
            labels = [{"id": "zero", "value": 1}, {"id": "one", "value": 1}]
        annotations.append({"input_id": ident, "data": {"concepts": labels}})
    r = await client.post(f"{APP}/annotations", json={"annotations": annotations})
    assert r.status_code == 200, r.text
    await create_model(client, "clf", "embedding-classifier", data=concepts("zero", "one"))
    version = await train(client, "clf")
    assert version["status"]["code"] == 21100, version
    assert version["metadata"]["training"]["mode"] == "one-vs-rest"


async def test_restart_resumes_training(backend_factory: Callable[..., LocalBackend]) -> None:
    backend = backend_factory()
    async with backend, client_for(backend) as c:
        await c.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
        await add_images(c, backend, of(("zero", "one"), 5))
        await create_model(c, "clf", "embedding-classifier", data=concepts("zero", "one"))
        await create_model(c, "stuck", "embedding-classifier", data=concepts("zero", "one"))
        done = await train(c, "clf")
        assert done["status"]["code"] == 21100
    # Simulate a crash mid-training: one version left TRAINING once, one interrupted 3 times.
    store = backend.store
    store.open()
    models = backend.automation.models
    app = store.get_app("local", "app")
    assert app is not None
    _, resumed = models.add_version(
        app.pk,
        "clf",
        description="",
        train_params=None,
        output_info={"data": concepts("zero", "one")},
        status_code=MODEL_TRAINING,
    )
    _, hopeless = models.add_version(
        app.pk,
        "stuck",
        description="",
        train_params=None,
        output_info={"data": concepts("zero", "one")},
        status_code=MODEL_TRAINING,
    )
    models.set_version_status(
        hopeless.pk, MODEL_TRAINING, "Model is training", training_info={"attempts": 3}
    )
    store.close()
    async with backend, client_for(backend) as c:
        again = await wait_version(c, "clf", resumed.id)
        assert again["status"]["code"] == 21100, again
        assert again["metadata"]["training"]["attempts"] == 1
        failed = await wait_version(c, "stuck", hopeless.id)
        assert failed["status"]["code"] == 21106
        assert "interrupted 3 times" in failed["status"]["description"]


async def test_concept_counts(client: httpx.AsyncClient, backend: LocalBackend) -> None:
    images = of(("zero", "one"), 3)
    await add_images(client, backend, images)
    first = f"d{images[0].index}"
    r = await client.post(
        f"{APP}/annotations",
        json={
            "annotations": [
                {"input_id": first, "data": {"concepts": [{"id": "one", "value": 0}]}},
                {
                    "input_id": first,
                    "data": {"concepts": [{"id": "one", "value": 1}]},
                    "status": {"code": 24151},
                },
            ]
        },
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"{APP}/concepts/status")
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.MultiConceptCountResponse)
    counts = {c["id"]: c["concept_type_count"] for c in r.json()["concept_counts"]}
    assert counts == {
        "zero": {"positive": 3, "negative": 0},
        "one": {"positive": 3, "negative": 1},  # the PENDING one does not count
    }
    assert len(digits()) >= 100
