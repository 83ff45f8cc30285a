"""The public app clarifai/main (issue #22): readable with any valid key, never writable."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from clarifai_grpc.grpc.api import service_pb2

from api.local.backend import LocalBackend
from api.local.public import EMBEDDER_MODEL, EMBEDDER_VERSION
from tests.local.conftest import b64, image_input, parse
from tests.local.digits import of, wait_version

PUBLIC = "/v2/users/clarifai/apps/main"


async def test_the_public_app_can_be_read(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{PUBLIC}/models/{EMBEDDER_MODEL}")
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.SingleModelResponse)
    model = r.json()["model"]
    assert model["model_type_id"] == "visual-embedder"
    assert (model["user_id"], model["app_id"]) == ("clarifai", "main")
    assert model["model_version"]["id"] == EMBEDDER_VERSION
    assert model["model_version"]["status"]["code"] == 21100
    r = await client.get(f"{PUBLIC}/models", params={"model_type_id": "visual-embedder"})
    assert [m["id"] for m in r.json()["models"]] == [EMBEDDER_MODEL]
    r = await client.get(f"{PUBLIC}/models/{EMBEDDER_MODEL}/versions")
    assert [v["id"] for v in r.json()["model_versions"]] == [EMBEDDER_VERSION]
    r = await client.get(f"{PUBLIC}/workflows")
    parse(r.json(), service_pb2.MultiWorkflowResponse)
    workflows = {w["id"]: w for w in r.json()["workflows"]}
    assert set(workflows) == {"Universal", "Empty"}
    [node] = workflows["Universal"]["nodes"]
    assert node["model"]["id"] == EMBEDDER_MODEL
    assert node["model"]["model_version"]["id"] == EMBEDDER_VERSION
    r = await client.get("/v2/users/clarifai/apps")
    assert [a["id"] for a in r.json()["apps"]] == ["main"]
    # and the caller's own listing does not show it
    r = await client.get("/v2/users/me/apps")
    assert "main" not in [a["id"] for a in r.json().get("apps", [])]


async def test_the_public_embedder_predicts(client: httpx.AsyncClient) -> None:
    body = {"inputs": [image_input("x")]}
    r = await client.post(f"{PUBLIC}/models/{EMBEDDER_MODEL}/outputs", json=body)
    assert r.status_code == 200, r.text
    embedding = r.json()["outputs"][0]["data"]["embeddings"][0]
    assert embedding["num_dimensions"] == len(embedding["vector"]) > 100


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/models", {"model": {"id": "x", "model_type_id": "concept-thresholder"}}),
        ("POST", "/inputs", {"inputs": [image_input("x")]}),
        ("DELETE", f"/models/{EMBEDDER_MODEL}", None),
        ("PATCH", "/workflows", {"workflows": [{"id": "Empty", "nodes": []}]}),
        ("POST", f"/models/{EMBEDDER_MODEL}/versions", {}),
    ],
)
async def test_writes_to_the_public_app_are_refused(
    client: httpx.AsyncClient, backend: LocalBackend, method: str, path: str, body: object
) -> None:
    r = await client.request(method, f"{PUBLIC}{path}", json=body)
    assert r.status_code == 403, r.text
    status = r.json()["status"]
    assert status["code"] == 11007
    assert "clarifai/main is Clarifai's public app" in status["description"]
    r = await client.post("/v2/users/clarifai/apps", json={"apps": [{"id": "mine"}]})
    assert r.json()["status"]["code"] == 11007


async def test_apps_are_created_on_a_base_workflow(client: httpx.AsyncClient) -> None:
    apps = [
        {"id": "plain"},
        {
            "id": "empty",
            "default_workflow": {"id": "Empty", "user_id": "clarifai", "app_id": "main"},
        },
        {"id": "named", "default_workflow_id": "Universal"},
    ]
    r = await client.post("/v2/users/me/apps", json={"apps": apps})
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.MultiAppResponse)
    defaults = {a["id"]: a["default_workflow"] for a in r.json()["apps"]}
    assert defaults["plain"] == {"id": "Universal", "app_id": "main", "user_id": "clarifai"}
    assert defaults["empty"]["id"] == "Empty"
    assert defaults["named"]["id"] == "Universal"
    r = await client.get("/v2/users/me/apps/plain")
    assert r.json()["app"]["default_workflow_id"] == "Universal"
    bad = {
        "id": "x",
        "default_workflow": {"id": "General", "user_id": "clarifai", "app_id": "main"},
    }
    r = await client.post("/v2/users/me/apps", json={"apps": [bad]})
    assert r.status_code == 400
    assert "unknown base workflow 'General'" in r.json()["status"]["description"]
    assert "Universal, Empty" in r.json()["status"]["description"]


async def test_a_default_workflow_must_index_new_inputs(
    client: httpx.AsyncClient, backend: LocalBackend
) -> None:
    await client.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
    app = "/v2/users/me/apps/app"
    body = {"model": {"id": "local-embed", "model_type_id": "visual-embedder"}}
    assert (await client.post(f"{app}/models", json=body)).status_code == 200
    # An app-local embedder with no trained version cannot run, as on the platform
    untrained = {"id": "u", "nodes": [{"id": "e", "model": {"id": "local-embed"}}]}
    r = await client.post(f"{app}/workflows", json={"workflows": [untrained]})
    assert r.status_code == 400, r.text
    assert r.json()["status"]["code"] == 21102
    assert "node 'e'" in r.json()["status"]["description"]
    assert "no trained version" in r.json()["status"]["description"]
    # A data dir from before the public app has embedders with a ready version: still usable
    # in a workflow, though not as the default (they do not index the app).
    old_style = await asyncio.to_thread(_old_style_embedder, backend, "app", "local-embed")
    assert old_style
    embed = {
        "id": "embed",
        "model": {
            "id": EMBEDDER_MODEL,
            "user_id": "clarifai",
            "app_id": "main",
            "model_version": {"id": EMBEDDER_VERSION},
        },
    }
    workflows = [
        {"id": "indexes", "nodes": [embed]},
        {"id": "blind", "nodes": [{"id": "e", "model": {"id": "local-embed"}}]},
    ]
    r = await client.post(f"{app}/workflows", json={"workflows": workflows})
    assert r.status_code == 200, r.text
    node = r.json()["workflows"][0]["nodes"][0]["model"]
    assert (node["user_id"], node["app_id"]) == ("clarifai", "main")
    patch = {"apps": [{"id": "app", "default_workflow_id": "blind"}], "action": "overwrite"}
    r = await client.patch("/v2/users/me/apps", json=patch)
    assert r.status_code == 400
    assert "no embedding node" in r.json()["status"]["description"]
    patch["apps"][0]["default_workflow_id"] = "indexes"
    r = await client.patch("/v2/users/me/apps", json=patch)
    assert r.status_code == 200, r.text
    assert r.json()["apps"][0]["default_workflow"]["app_id"] == "app"
    back = {
        "id": "app",
        "default_workflow": {"id": "Universal", "user_id": "clarifai", "app_id": "main"},
    }
    r = await client.patch("/v2/users/me/apps", json={"apps": [back], "action": "overwrite"})
    assert r.json()["apps"][0]["default_workflow"]["app_id"] == "main"
    # a node naming a model that is not there is refused, naming the node
    ghost = {"id": "ghost", "model": {"id": "nope", "user_id": "clarifai", "app_id": "main"}}
    r = await client.post(f"{app}/workflows", json={"workflows": [{"id": "g", "nodes": [ghost]}]})
    assert r.json()["status"]["code"] == 21200
    assert "node 'ghost'" in r.json()["status"]["description"]
    assert "clarifai/main · nope" in r.json()["status"]["description"]


async def test_a_public_model_named_by_id_alone_is_found_from_an_app(
    client: httpx.AsyncClient,
) -> None:
    # The API walkthrough's older requests name public models by id (and version) only.
    await client.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
    app = "/v2/users/me/apps/app"
    r = await client.get(f"{app}/models/{EMBEDDER_MODEL}")
    assert r.status_code == 200, r.text
    assert (r.json()["model"]["user_id"], r.json()["model"]["app_id"]) == ("clarifai", "main")
    r = await client.get(f"{app}/models/{EMBEDDER_MODEL}/versions/{EMBEDDER_VERSION}")
    assert r.json()["model_version"]["id"] == EMBEDDER_VERSION
    r = await client.post(
        f"{app}/models/{EMBEDDER_MODEL}/outputs", json={"inputs": [image_input("x")]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["model"]["app_id"] == "main"
    # never a write through that fallback
    r = await client.delete(f"{app}/models/{EMBEDDER_MODEL}")
    assert r.status_code == 404
    r = await client.get(f"/v2/users/clarifai/apps/main/models/{EMBEDDER_MODEL}")
    assert r.status_code == 200


def _old_style_embedder(backend: LocalBackend, app_id: str, model_id: str) -> str:
    """Give an app-local embedder the ready version that PostModels made before issue #22."""
    store = backend.store
    app = store.get_app(backend.user_id, app_id)
    assert app is not None
    with store.write() as conn:
        (model_pk,) = conn.execute(
            "SELECT pk FROM models WHERE app_pk = ? AND id = ?", (app.pk, model_id)
        ).fetchone()
        now = time.time()
        conn.execute(
            "INSERT INTO model_versions (model_pk, id, status_code, status_description, "
            "output_info, created_at, modified_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (model_pk, "old-version", 21100, "Model is trained and ready", "{}", now, now, now),
        )
    return "old-version"


async def test_an_app_on_empty_is_not_indexed_and_trains_no_classifier(
    client: httpx.AsyncClient, backend: LocalBackend
) -> None:
    """As on the platform: the base workflow Empty has no embedder, so the app's inputs get
    no embeddings, and an embedding-classifier there has nothing to learn from (issue #22)."""
    base = {"id": "Empty", "user_id": "clarifai", "app_id": "main"}
    r = await client.post(
        "/v2/users/me/apps", json={"apps": [{"id": "bare", "default_workflow": base}]}
    )
    assert r.status_code == 200, r.text
    app = "/v2/users/me/apps/bare"
    images = of(("zero", "one"), 4)
    inputs = [
        {
            "id": f"d{i.index}",
            "data": {"image": {"base64": b64(i.png)}, "concepts": [{"id": i.concept, "value": 1}]},
        }
        for i in images
    ]
    r = await client.post(f"{app}/inputs", json={"inputs": inputs})
    assert r.status_code == 200, r.text
    await backend.wait_idle(30)
    r = await client.get(f"{app}/inputs", params={"per_page": 100})
    assert {i["status"]["code"] for i in r.json()["inputs"]} == {30000}  # processed
    count = backend.store._conn().execute("SELECT count(*) FROM embeddings").fetchone()[0]
    assert count == 0
    model = {
        "id": "clf",
        "model_type_id": "embedding-classifier",
        "output_info": {"data": {"concepts": [{"id": "zero"}, {"id": "one"}]}},
    }
    assert (await client.post(f"{app}/models", json={"model": model})).status_code == 200
    r = await client.post(f"{app}/models/clf/versions", json={})
    assert r.status_code == 200, r.text
    version_id = r.json()["model"]["model_version"]["id"]
    status = (await wait_version(client, "clf", version_id, app=app))["status"]
    assert status["code"] == 21106, status
    assert "Empty" in status["description"] and "general-image-embedding" in status["description"]
