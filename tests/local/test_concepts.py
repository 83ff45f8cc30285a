from __future__ import annotations

import httpx
from clarifai_grpc.grpc.api import service_pb2

from tests.local.conftest import APP, parse


async def test_concepts_crud(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{APP}/concepts", json={"concepts": [{"id": "cat", "name": "Cat"}, {"id": "dog"}]}
    )
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.MultiConceptResponse)
    assert [(c["id"], c["name"]) for c in r.json()["concepts"]] == [("cat", "Cat"), ("dog", "dog")]
    r = await client.post(f"{APP}/concepts", json={"concepts": [{"id": "cat"}]})
    assert r.status_code == 400 and r.json()["status"]["code"] == 40003
    r = await client.get(f"{APP}/concepts", params={"per_page": 1, "page": 2})
    parse(r.json(), service_pb2.MultiConceptResponse)
    assert [c["id"] for c in r.json()["concepts"]] == ["cat"]
    r = await client.patch(
        f"{APP}/concepts",
        json={"concepts": [{"id": "dog", "name": "Doggo"}], "action": "overwrite"},
    )
    assert r.json()["concepts"][0]["name"] == "Doggo"
    r = await client.get(f"{APP}/concepts/dog")
    parse(r.json(), service_pb2.SingleConceptResponse)
    assert r.json()["concept"]["name"] == "Doggo"
    r = await client.get(f"{APP}/concepts/ghost")
    assert r.status_code == 404
    r = await client.patch(f"{APP}/concepts", json={"concepts": [{"id": "x"}], "action": "merge"})
    assert r.status_code == 404
    r = await client.post(f"{APP}/concepts", json={"concepts": [{"id": "a"}, {"id": "a"}]})
    assert r.status_code == 400 and "repeated" in r.json()["status"]["description"]
