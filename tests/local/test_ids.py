"""Ids in the platform's character set, names and descriptions of bounded length (issue 25).

The attacks: ids took bidi overrides and zero-width characters (an input 'cat<U+202E>gpj.exe'
shows as another id), and names had no length limit (a 1 MB app name was stored). Now an id a
client names is 1-32 ASCII letters, digits, '-' and '_' (the platform's rule), names are at
most 256 characters and descriptions 4,096, neither with control characters; anything else is
an 11102 naming the field, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from clarifai_grpc.grpc.api import service_pb2

from api.local.http import MAX_DESCRIPTION_LENGTH, MAX_ID_LENGTH, MAX_NAME_LENGTH, shown
from tests.local.conftest import APP, image_input, parse

SPOOFS = {
    "right-to-left override": ("cat\u202egpj", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    "left-to-right isolate": ("cat\u2066x", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    "zero-width space": ("ca\u200bt", "U+200B ZERO WIDTH SPACE"),
    "zero-width joiner": ("ca\u200dt", "U+200D ZERO WIDTH JOINER"),
    "byte order mark": ("\ufeffcat", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    "cyrillic a": ("c\u0430t", "U+0430 CYRILLIC SMALL LETTER A"),
    "escape": ("cat\x1b[2J", "U+001B"),
    "period": ("cat.jpg", "'.'"),
    "slash": ("a/b", "'/'"),
}


def check_invalid(r: httpx.Response, field: str, *fragments: str) -> str:
    assert r.status_code == 400, r.text
    status = r.json()["status"]
    assert status["code"] == 11102, status
    description: str = status["description"]
    assert description.startswith(f"{field}: "), description
    for fragment in fragments:
        assert fragment in description, description
    assert description.isascii(), "the error must not carry the character itself"
    return description


@pytest.mark.parametrize("kind", sorted(SPOOFS))
async def test_input_ids_with_spoofing_characters_are_refused(
    client: httpx.AsyncClient, kind: str
) -> None:
    ident, named = SPOOFS[kind]
    r = await client.post(
        f"{APP}/inputs", json={"inputs": [image_input("fine"), image_input(ident)]}
    )
    check_invalid(r, "inputs[1].id", "invalid id", named, "1-32 ASCII letters, digits, '-' and '_'")
    parse(r.json(), service_pb2.MultiInputResponse)
    listed = await client.get(f"{APP}/inputs")
    assert listed.json()["inputs"] == [], "a refused batch stores nothing"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v2/users/me/apps", {"apps": [{"id": "{id}"}]}, "apps[0].id"),
        (f"{APP}/concepts", {"concepts": [{"id": "{id}"}]}, "concepts[0].id"),
        (
            f"{APP}/models",
            {"model": {"id": "{id}", "model_type_id": "concept-thresholder"}},
            "model.id",
        ),
        (
            f"{APP}/workflows",
            {"workflows": [{"id": "{id}", "nodes": [{"id": "n", "model": {"id": "m"}}]}]},
            "workflows[0].id",
        ),
        (
            f"{APP}/workflows",
            {"workflows": [{"id": "wf", "nodes": [{"id": "{id}", "model": {"id": "m"}}]}]},
            "workflows[0].nodes[0].id",
        ),
    ],
)
async def test_every_kind_of_id_is_checked(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    def fill(value: Any, ident: str) -> Any:
        if isinstance(value, dict):
            return {k: fill(v, ident) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v, ident) for v in value]
        return ident if value == "{id}" else value

    r = await client.post(path, json=fill(body, "ca\u200bt"))
    check_invalid(r, field, "U+200B ZERO WIDTH SPACE")


async def test_id_length_is_capped(client: httpx.AsyncClient) -> None:
    longest = "a-" * (MAX_ID_LENGTH // 2)
    assert len(longest) == MAX_ID_LENGTH == 32
    r = await client.post(f"{APP}/concepts", json={"concepts": [{"id": longest}]})
    assert r.status_code == 200, r.text
    r = await client.post(f"{APP}/concepts", json={"concepts": [{"id": longest + "b"}]})
    check_invalid(r, "concepts[0].id", "33 characters; at most 32 are allowed")


async def test_ids_the_platform_takes_are_taken(client: httpx.AsyncClient) -> None:
    for ident in ("cat", "Cat_2", "golden-retriever", "0", "_", "-", "A" * 32):
        r = await client.post(f"{APP}/concepts", json={"concepts": [{"id": ident}]})
        assert r.status_code == 200, (ident, r.text)


async def test_app_names_are_capped(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v2/users/me/apps", json={"apps": [{"id": "big", "name": "x" * 1_000_000}]}
    )
    check_invalid(r, "apps[0].name", "1,000,000 characters; at most 256 are allowed")
    assert (await client.get("/v2/users/me/apps/big")).status_code == 404
    r = await client.post(
        "/v2/users/me/apps", json={"apps": [{"id": "ok", "name": "n" * MAX_NAME_LENGTH}]}
    )
    assert r.status_code == 200, r.text


async def test_names_refuse_control_characters(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{APP}/concepts", json={"concepts": [{"id": "cat", "name": "cat\x1b]0;owned\x07"}]}
    )
    check_invalid(r, "concepts[0].name", "control character U+001B")
    r = await client.patch(
        "/v2/users/me/apps", json={"action": "overwrite", "apps": [{"id": "app", "name": "a\nb"}]}
    )
    check_invalid(r, "apps[0].name", "control character U+000A")


async def test_descriptions_are_capped_and_may_have_line_breaks(client: httpx.AsyncClient) -> None:
    nodes = [
        {
            "id": "embed",
            "model": {
                "id": "general-image-embedding",
                "user_id": "clarifai",
                "app_id": "main",
            },
        }
    ]
    too_long = "d" * (MAX_DESCRIPTION_LENGTH + 1)
    r = await client.post(
        f"{APP}/workflows",
        json={"workflows": [{"id": "wf", "description": too_long, "nodes": nodes}]},
    )
    check_invalid(r, "workflows[0].description", "4,097 characters; at most 4,096 are allowed")
    r = await client.post(
        f"{APP}/workflows",
        json={"workflows": [{"id": "wf", "description": "line 1\nline 2\tend", "nodes": nodes}]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["workflows"][0]["description"] == "line 1\nline 2\tend"


def test_shown_escapes_what_a_terminal_would_act_on() -> None:
    assert shown("plain-id") == "'plain-id'"
    assert shown("a\u202eb") == "'a\\u202eb'"
    assert shown("a\x1b[2Jb") == "'a\\x1b[2Jb'"
    assert shown("it's") == "'it\\'s'"
    assert shown("x" * 100).endswith("x'...")
