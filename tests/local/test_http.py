"""Auth, envelopes, malformed requests, routing errors: always a JSON status, never a 500."""

from __future__ import annotations

import httpx
import pytest

from api.local.backend import LocalBackend
from tests.local.conftest import APP, client_for, image_input


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Key wrong"},
        {"Authorization": "Bearer test-key"},
        {"Authorization": "test-key"},
    ],
)
async def test_auth_failures(backend: LocalBackend, headers: dict[str, str]) -> None:
    async with client_for(backend, key=None) as c:
        r = await c.get("/v2/users/me/apps", headers=headers)
    assert r.status_code == 401
    assert r.json()["status"]["code"] == 11008


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    r = await client.get("/v2/whatever")
    assert r.status_code == 404 and r.json()["status"]["code"] == 11101
    r = await client.put(f"{APP}/inputs")
    assert r.status_code == 405 and r.json()["status"]["code"] == 11103


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"inputs": "x"}', "inputs"),
        (b'{"inputs": [3]}', "inputs[0]"),
        (b'{"inputs": [{"id": 5}]}', "inputs[0].id"),
        (
            b'{"inputs": [{"id": "a", "data": {"image": {"base64": "!!!"}}}]}',
            "inputs[0].data.image.base64",
        ),
        (b'{"inputs": [{"id": "a", "data": {"image": {}}}]}', "inputs[0].data.image"),
        (
            b'{"inputs": [{"id": "a", "data": {"video": {"url": "http://x"}}}]}',
            "inputs[0].data.video",
        ),
        (b'{"inputs": [{"id": "a/b", "data": {"image": {"url": "http://x"}}}]}', "inputs[0].id"),
        (
            b'{"inputs": [{"data": {"image": {"url": "http://x"}, "concepts": [{"value": 1}]}}]}',
            "inputs[0].data.concepts[0].id",
        ),
        (
            b'{"inputs": [{"data": {"image": {"url": "http://x"}, "metadata": [1]}}]}',
            "inputs[0].data.metadata",
        ),
        (b'{"inputs": []}', "inputs"),
    ],
)
async def test_malformed_bodies_name_the_field(
    client: httpx.AsyncClient, body: bytes, field: str
) -> None:
    r = await client.post(f"{APP}/inputs", content=body)
    assert r.status_code == 400, r.text
    status = r.json()["status"]
    assert status["code"] == 11102
    assert status["description"].startswith(field), status


async def test_batch_limit(client: httpx.AsyncClient) -> None:
    inputs = [{"data": {"image": {"url": f"http://example.com/{n}.png"}}} for n in range(129)]
    r = await client.post(f"{APP}/inputs", json={"inputs": inputs})
    assert r.status_code == 400
    assert r.json()["status"]["code"] == 11102
    assert "at most 128" in r.json()["status"]["description"]
    anns = [{"input_id": "x"} for _ in range(129)]
    r = await client.post(f"{APP}/annotations", json={"annotations": anns})
    assert "at most 128" in r.json()["status"]["description"]


@pytest.mark.parametrize(
    "params", [{"page": "0"}, {"per_page": "0"}, {"per_page": "5000"}, {"page": "x"}]
)
async def test_bad_paging(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    r = await client.get(f"{APP}/inputs", params=params)
    assert r.status_code == 400 and r.json()["status"]["code"] == 11102
    assert next(iter(params)) in r.json()["status"]["description"]


async def test_camel_case_body_and_dotted_query(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{APP}/inputs",
        json={
            "userAppId": {"userId": "me", "appId": "app"},
            "inputs": [image_input("cam", metadata={"someKey": 1.0})],
        },
    )
    assert r.status_code == 200, r.text
    # Struct keys stay as sent; the official client's dotted params are ignored.
    assert r.json()["inputs"][0]["data"]["metadata"] == {"someKey": 1.0}
    r = await client.get(
        f"{APP}/inputs",
        params={"user_app_id.user_id": "me", "user_app_id.app_id": "app", "perPage": "1"},
    )
    assert r.status_code == 200 and len(r.json()["inputs"]) == 1
