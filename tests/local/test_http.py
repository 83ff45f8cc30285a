"""Auth, envelopes, malformed requests, routing errors: always a JSON status, never a 500."""

from __future__ import annotations

import httpx
import pytest

from api.local.backend import LocalBackend
from api.local.jsonio import Obj
from api.local.status import ApiFailure
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
            b'{"inputs": [{"id": "a", "data": {"audio": {"url": "http://x"}}}]}',
            "inputs[0].data.audio",
        ),
        (
            b'{"inputs": [{"id": "a", "data": {"video": {"base64": "!!!"}}}]}',
            "inputs[0].data.video.base64",
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


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "body", "nested too deeply"),
        (b'{"inputs":' * 300 + b"1" + b"}" * 300, "inputs.inputs", "levels deep"),
        (
            b'{"inputs": [{"data": {"metadata": ' + b'{"a":' * 200 + b"1" + b"}" * 202 + b"]}",
            "inputs[0].data.metadata",
            "levels deep",
        ),
        (b'{"inputs": [{"id": "\\ud800"}]}', "inputs[0].id", "surrogate"),
        (
            b'{"inputs": [{"data": {"metadata": {"\\udfff": 1}}}]}',
            "inputs[0].data.metadata",
            "surrogate",
        ),
        (b'{"inputs": NaN}', "body", "NaN"),
        (b'{"inputs": [{"id": 1e400}]}', "body", "out of range"),
        (b'{"inputs": [{"id": ' + b"9" * 5000 + b"}]}", "body", "not valid JSON"),
    ],
    ids=["deep-list", "deep-obj", "deep-struct", "surrogate", "surrogate-key", "nan", "inf", "int"],
)
async def test_hostile_bodies_are_invalid_requests(
    client: httpx.AsyncClient, body: bytes, field: str, words: str
) -> None:
    r = await client.post(f"{APP}/inputs", content=body)
    assert r.status_code == 400, r.text
    status = r.json()["status"]
    assert status["code"] == 11102
    assert status["description"].startswith(field) and words in status["description"], status


async def test_a_malformed_body_is_refused_where_the_route_ignores_it(
    client: httpx.AsyncClient,
) -> None:
    r = await client.request("DELETE", f"{APP}/inputs/nothing", content=b"{oops")
    assert r.status_code == 400 and r.json()["status"]["code"] == 11102


@pytest.mark.parametrize(
    "params",
    [
        {"page": "9" * 30},
        {"page": str(2**62)},
        {"per_page": "9" * 30},
        {"status.code": "9" * 30},
        {"status.code": "²"},
    ],
)
async def test_huge_query_numbers_name_the_param(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    r = await client.get(f"{APP}/inputs", params=params)
    assert r.status_code == 400 and r.json()["status"]["code"] == 11102, r.text
    assert r.json()["status"]["description"].startswith(next(iter(params))), r.text


@pytest.mark.parametrize("path", [f"{APP}/inputs/", f"{APP}/", "/v2/users/me/apps/"])
async def test_trailing_slash_is_a_json_404(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 404 and r.json()["status"]["code"] == 11101, r.text


@pytest.mark.parametrize(
    "text",
    [
        "AAECA/7/",  # canonical
        "AAEC\nA/7/\n",  # line breaks (MIME style)
        " AAECA/7/ ",
        "AAECA_7_",  # URL-safe alphabet
    ],
)
def test_bytes_fields_take_standard_mime_and_url_safe_base64(text: str) -> None:
    assert Obj({"b": text}, "x").get_bytes("b") == bytes([0, 1, 2, 3, 254, 255])


def test_bytes_fields_without_padding_and_with_bad_letters() -> None:
    assert Obj({"b": "AAEC"}, "").get_bytes("b") == b"\x00\x01\x02"
    assert Obj({"b": "AAE"}, "").get_bytes("b") == b"\x00\x01"  # padding left out
    for bad in ("AA*C", "AAEC====A", "é"):
        with pytest.raises(ApiFailure) as caught:
            Obj({"b": bad}, "inputs[3].data.image").get_bytes("b")
        assert caught.value.code == 11102
        assert "inputs[3].data.image.b" in caught.value.description
