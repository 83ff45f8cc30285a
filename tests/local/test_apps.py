from __future__ import annotations

import httpx
from clarifai_grpc.grpc.api import service_pb2

from tests.local.conftest import parse


async def test_post_get_list_apps(client: httpx.AsyncClient) -> None:
    r = await client.post("/v2/users/me/apps", json={"apps": [{"id": "second", "name": "Second"}]})
    assert r.status_code == 200
    parse(r.json(), service_pb2.MultiAppResponse)
    assert r.json()["apps"][0]["name"] == "Second"
    r = await client.get("/v2/users/local/apps/second")
    app = parse(r.json(), service_pb2.SingleAppResponse)
    assert app.app.id == "second" and app.app.user_id == "local"
    r = await client.get("/v2/users/me/apps", params={"per_page": 1, "page": 1})
    assert [a["id"] for a in r.json()["apps"]] == ["second"]
    r = await client.get("/v2/users/me/apps", params={"per_page": 1, "page": 2})
    assert [a["id"] for a in r.json()["apps"]] == ["app"]
    r = await client.get("/v2/users/me/apps", params={"per_page": 1, "page": 3})
    assert r.json()["apps"] == []


async def test_duplicate_and_missing_app(client: httpx.AsyncClient) -> None:
    r = await client.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
    assert r.status_code == 400 and r.json()["status"]["code"] == 11102
    assert "already exists" in r.json()["status"]["description"]
    r = await client.get("/v2/users/me/apps/nope")
    assert r.status_code == 404 and r.json()["status"]["code"] == 11101
    r = await client.get("/v2/users/me/apps/nope/inputs")
    assert r.status_code == 404 and "app 'nope'" in r.json()["status"]["description"]


async def test_unknown_user(client: httpx.AsyncClient) -> None:
    r = await client.get("/v2/users/someone/apps")
    assert r.status_code == 404
    assert "'me'" in r.json()["status"]["description"]


async def test_patch_default_workflow(client: httpx.AsyncClient) -> None:
    r = await client.patch(
        "/v2/users/me/apps",
        json={"apps": [{"id": "app", "default_workflow_id": "wf"}], "action": "overwrite"},
    )
    assert r.status_code == 404 and r.json()["status"]["code"] == 22102
    assert "'wf'" in r.json()["status"]["description"]
    r = await client.post(
        "/v2/users/me/apps/app/models",
        json={"model": {"id": "embed", "model_type_id": "visual-embedder"}},
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/v2/users/me/apps/app/workflows",
        # the public embedder named by id alone, as the API walkthrough's older workflows do
        json={
            "workflows": [
                {"id": "wf", "nodes": [{"id": "e", "model": {"id": "general-image-embedding"}}]}
            ]
        },
    )
    assert r.status_code == 200, r.text
    r = await client.patch(
        "/v2/users/me/apps",
        json={"apps": [{"id": "app", "defaultWorkflowId": "wf"}], "action": "overwrite"},
    )
    parse(r.json(), service_pb2.MultiAppResponse)
    assert r.json()["apps"][0]["default_workflow_id"] == "wf"
    r = await client.get("/v2/users/me/apps/app")
    assert r.json()["app"]["default_workflow_id"] == "wf"
    r = await client.patch(
        "/v2/users/me/apps",
        json={"apps": [{"id": "app", "default_workflow_id": "wf"}], "action": "remove"},
    )
    # an app always has a default workflow: removing it goes back to the base workflow
    assert r.json()["apps"][0]["default_workflow"] == {
        "id": "Universal",
        "app_id": "main",
        "user_id": "clarifai",
    }
    r = await client.patch("/v2/users/me/apps", json={"apps": [{"id": "ghost", "name": "x"}]})
    assert r.status_code == 404
    r = await client.patch("/v2/users/me/apps", json={"apps": [{"id": "app"}], "action": "zap"})
    assert r.status_code == 400 and "action" in r.json()["status"]["description"]
