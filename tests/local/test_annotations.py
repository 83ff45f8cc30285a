from __future__ import annotations

from typing import Any

import httpx
from clarifai_grpc.grpc.api import service_pb2

from api.local.backend import LocalBackend
from api.local.rows import ConceptValue, NewAnnotation
from tests.local.conftest import APP, image_input, parse


async def setup_inputs(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{APP}/inputs", json={"inputs": [image_input("i1"), image_input("i2")]})
    assert r.status_code == 200


async def list_ids(client: httpx.AsyncClient, params: Any = None) -> list[str]:
    r = await client.get(f"{APP}/annotations", params=params)
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.MultiAnnotationResponse)
    return [a["id"] for a in r.json()["annotations"]]


async def test_post_list_patch_delete(client: httpx.AsyncClient, backend: LocalBackend) -> None:
    await setup_inputs(client)
    r = await client.post(
        f"{APP}/annotations",
        json={
            "annotations": [
                {"id": "a1", "input_id": "i1", "data": {"concepts": [{"id": "cat", "value": 1}]}},
                {
                    "id": "a2",
                    "inputId": "i2",
                    "data": {"concepts": [{"id": "dog", "value": 0}]},
                    "status": {"code": "ANNOTATION_PENDING"},
                },
            ]
        },
    )
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.MultiAnnotationResponse)
    assert r.json()["annotations"][1]["status"]["code"] == 24151
    # A model-written annotation (as issue 6's writers will store them).
    app = backend.store.get_app(backend.user_id, "app")
    assert app is not None
    backend.store.add_annotations(
        app.pk,
        [
            NewAnnotation(
                id="m1",
                input_id="i1",
                user_id="local",
                model_version_id="v1",
                concepts=[ConceptValue("cat", "", 0.9)],
                status_code=24151,
            )
        ],
    )
    assert await list_ids(client) == ["a2", "a1"]  # own human annotations only, newest first
    assert await list_ids(client, {"list_all_annotations": "True"}) == ["m1", "a2", "a1"]
    assert await list_ids(client, {"model_version_ids": "v1"}) == ["m1"]
    assert await list_ids(client, [("input_ids", "i1")]) == ["a1"]
    refused = await client.get(
        f"{APP}/annotations", params={"statuses.code": "24151", "list_all_annotations": "true"}
    )
    assert refused.status_code == 400
    assert refused.json()["status"]["description"].startswith("statuses.code: statuses is a")
    assert await list_ids(client, {"user_ids": "me"}) == ["m1", "a2", "a1"]
    everyone = await client.get(f"{APP}/annotations", params={"list_all_annotations": "true"})
    workers = {a["id"]: a["worker"] for a in everyone.json()["annotations"]}
    assert workers["m1"] == {"model": {"model_version": {"id": "v1"}}}
    assert workers["a1"] == {"user": {"id": backend.user_id}}
    assert await list_ids(client, [("ids", "a1"), ("input_ids", "i1")]) == ["a1"]
    alone = await client.get(f"{APP}/annotations", params={"ids": "a1"})
    assert alone.status_code == 400 and "needs input_ids" in alone.json()["status"]["description"]
    assert await list_ids(client, {"per_page": 1, "page": 2, "list_all_annotations": "1"}) == ["a2"]

    async def patch(action: str, ann: dict[str, Any]) -> dict[str, Any]:
        r = await client.patch(f"{APP}/annotations", json={"annotations": [ann], "action": action})
        assert r.status_code == 200, r.text
        parse(r.json(), service_pb2.MultiAnnotationResponse)
        result: dict[str, Any] = r.json()["annotations"][0]
        return result

    a = await patch("merge", {"id": "m1", "status": {"code": 24150}})
    assert a["status"]["code"] == 24150 and a["data"]["concepts"][0]["value"] == 0.9
    a = await patch("merge", {"id": "a1", "data": {"concepts": [{"id": "bird", "value": 1}]}})
    assert [c["id"] for c in a["data"]["concepts"]] == ["cat", "bird"]
    a = await patch("remove", {"id": "a1", "data": {"concepts": [{"id": "cat"}]}})
    assert [c["id"] for c in a["data"]["concepts"]] == ["bird"]
    a = await patch(
        "overwrite", {"id": "a1", "data": {"concepts": [{"id": "fish"}]}, "status": {"code": 24158}}
    )
    assert [c["id"] for c in a["data"]["concepts"]] == ["fish"]
    assert a["status"]["code"] == 24158
    r = await client.patch(
        f"{APP}/annotations", json={"annotations": [{"id": "a1", "status": {"code": 10000}}]}
    )
    assert r.status_code == 400 and "status.code" in r.json()["status"]["description"]
    r = await client.patch(
        f"{APP}/annotations", json={"annotations": [{"id": "a1", "input_id": "i2"}]}
    )
    assert r.status_code == 400 and "belongs to input 'i1'" in r.json()["status"]["description"]

    r = await client.get(f"{APP}/inputs/i1/annotations/a1")
    parse(r.json(), service_pb2.SingleAnnotationResponse)
    r = await client.delete(f"{APP}/inputs/i2/annotations/a1")
    assert r.status_code == 404
    r = await client.delete(f"{APP}/inputs/i1/annotations/a1")
    assert r.status_code == 200 and r.json()["status"]["code"] == 10000
    assert await list_ids(client) == ["a2"]


async def test_annotation_errors(client: httpx.AsyncClient) -> None:
    await setup_inputs(client)
    r = await client.post(f"{APP}/annotations", json={"annotations": [{"input_id": "ghost"}]})
    assert r.status_code == 404 and "ghost" in r.json()["status"]["description"]
    r = await client.post(f"{APP}/annotations", json={"annotations": [{"data": {}}]})
    assert r.status_code == 400 and "annotations[0].input_id" in r.json()["status"]["description"]
    r = await client.post(
        f"{APP}/annotations", json={"annotations": [{"input_id": "i1", "user_id": "mallory"}]}
    )
    assert r.status_code == 400
    r = await client.post(
        f"{APP}/annotations",
        json={"annotations": [{"id": "same", "input_id": "i1"}, {"id": "same", "input_id": "i2"}]},
    )
    assert r.status_code == 400 and "same" in r.json()["status"]["description"]


async def test_input_concepts_are_an_input_level_annotation(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{APP}/inputs", json={"inputs": [image_input("l", concepts=[{"id": "cat"}])]}
    )
    assert r.status_code == 200
    r = await client.get(f"{APP}/annotations", params={"input_ids": "l"})
    (annotation,) = r.json()["annotations"]
    assert annotation["input_level"] is True
    assert annotation["data"]["concepts"][0]["id"] == "cat"
    r = await client.get(f"{APP}/concepts")
    assert [c["id"] for c in r.json()["concepts"]] == ["cat"]  # created on the fly
