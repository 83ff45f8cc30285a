from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from clarifai_grpc.grpc.api import service_pb2
from PIL import Image

from api.local.backend import LocalBackend
from api.local.store import Store
from tests.local.conftest import APP, image_bytes, image_input, parse


def app_pk(backend: LocalBackend, app_id: str = "app") -> int:
    """The pk of one of the caller's apps (clarifai/main, built in, takes the first)."""
    app = backend.store.get_app(backend.user_id, app_id)
    assert app is not None
    return app.pk


async def post(client: httpx.AsyncClient, *inputs: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(f"{APP}/inputs", json={"inputs": list(inputs)})
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.MultiInputResponse)
    payload: dict[str, Any] = r.json()
    return payload


async def get_input(client: httpx.AsyncClient, ident: str) -> dict[str, Any]:
    r = await client.get(f"{APP}/inputs/{ident}")
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.SingleInputResponse)
    found: dict[str, Any] = r.json()["input"]
    return found


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
async def test_formats_are_processed(
    client: httpx.AsyncClient, backend: LocalBackend, fmt: str
) -> None:
    body = await post(client, image_input("x", image_bytes(fmt, size=(40, 30))))
    assert body["status"]["code"] == 10000
    assert body["inputs"][0]["status"]["code"] == 30001
    await backend.wait_idle(10)
    found = await get_input(client, "x")
    assert found["status"]["code"] == 30000
    assert found["data"]["image"]["image_info"]["format"] == fmt
    assert found["data"]["image"]["image_info"]["width"] == 40


async def test_bad_images_fail_with_reasons(
    client: httpx.AsyncClient, backend: LocalBackend
) -> None:
    png = image_bytes("PNG", size=(200, 200), color=(1, 2, 3))
    huge = io.BytesIO()
    Image.new("1", (3000, 2000)).save(huge, "PNG")  # 6 Mpx > the 4 Mpx test cap, tiny file
    await post(
        client,
        image_input("truncated", png[: len(png) // 2]),
        image_input("text", b"hello, I am a text file named photo.jpg"),
        image_input("huge", huge.getvalue()),
        image_input("tiff", image_bytes("TIFF")),
        image_input("big-bytes", b"\xff\xd8" + b"0" * 2_100_000),
    )
    await backend.wait_idle(10)
    reasons = {}
    for ident in ("truncated", "text", "huge", "tiff", "big-bytes"):
        found = await get_input(client, ident)
        assert found["status"]["code"] == 30002, found
        reasons[ident] = found["status"]["description"]
    assert reasons["truncated"].startswith(("truncated PNG", "corrupt PNG")), reasons
    assert reasons["text"].startswith("not an image"), reasons
    assert reasons["huge"].startswith("too large: 3000x2000"), reasons
    assert reasons["tiff"].startswith("unsupported format TIFF"), reasons
    assert reasons["big-bytes"].startswith("too large: the image is 2.0 MB"), reasons
    r = await client.get(f"{APP}/inputs/status")
    counts = parse(r.json(), service_pb2.SingleInputCountResponse)
    assert counts.counts.errors == 5  # type: ignore[attr-defined]


async def test_duplicate_ids_mixed_status(client: httpx.AsyncClient, backend: LocalBackend) -> None:
    await post(client, image_input("a"))
    body = await post(client, image_input("a"), image_input("b"), image_input("b"))
    assert body["status"]["code"] == 10010
    codes = [i["status"]["code"] for i in body["inputs"]]
    assert codes == [30100, 30001, 30100]
    await backend.wait_idle(10)
    r = await client.get(f"{APP}/inputs")
    assert sorted(i["id"] for i in r.json()["inputs"]) == ["a", "b"]


async def test_paging_is_stable_and_complete(client: httpx.AsyncClient) -> None:
    inputs = [
        {"id": f"in{n:03d}", "data": {"image": {"url": f"http://example.com/{n}.png"}}}
        for n in range(25)
    ]
    await post(client, *inputs)
    seen: list[str] = []
    for page in range(1, 5):
        r = await client.get(f"{APP}/inputs", params={"page": page, "per_page": 7})
        parse(r.json(), service_pb2.MultiInputResponse)
        seen += [i["id"] for i in r.json()["inputs"]]
    assert seen == [f"in{n:03d}" for n in reversed(range(25))]  # newest first, no overlap


async def test_list_filters(client: httpx.AsyncClient, backend: LocalBackend) -> None:
    await post(client, image_input("good"), image_input("bad", b"nope"))
    await backend.wait_idle(10)
    r = await client.get(f"{APP}/inputs", params={"status.code": "30002"})
    assert [i["id"] for i in r.json()["inputs"]] == ["bad"]
    r = await client.get(f"{APP}/inputs", params=[("ids", "good"), ("ids", "bad")])
    assert {i["id"] for i in r.json()["inputs"]} == {"good", "bad"}
    r = await client.get(f"{APP}/inputs", params={"status.code": "INPUT_DOWNLOAD_SUCCESS"})
    assert [i["id"] for i in r.json()["inputs"]] == ["good"]


async def test_get_missing_input(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{APP}/inputs/ghost")
    assert r.status_code == 404 and r.json()["status"]["code"] == 11101


async def test_patch_inputs_metadata_and_concepts(client: httpx.AsyncClient) -> None:
    await post(
        client,
        image_input("p", metadata={"a": 1, "n": {"x": 1, "y": 2}}, concepts=[{"id": "cat"}]),
    )

    async def patch(action: str, data: dict[str, Any]) -> dict[str, Any]:
        r = await client.patch(
            f"{APP}/inputs", json={"inputs": [{"id": "p", "data": data}], "action": action}
        )
        assert r.status_code == 200, r.text
        parse(r.json(), service_pb2.MultiInputResponse)
        patched: dict[str, Any] = r.json()["inputs"][0]["data"]
        return patched

    data = await patch(
        "merge", {"metadata": {"b": 2, "n": {"y": 3}}, "concepts": [{"id": "dog", "value": 0}]}
    )
    assert data["metadata"] == {"a": 1, "b": 2, "n": {"x": 1, "y": 3}}
    assert [(c["id"], c["value"]) for c in data["concepts"]] == [("cat", 1.0), ("dog", 0.0)]
    data = await patch(
        "remove", {"metadata": {"a": None, "n": {"x": None}}, "concepts": [{"id": "cat"}]}
    )
    assert data["metadata"] == {"b": 2, "n": {"y": 3}}
    assert [c["id"] for c in data["concepts"]] == ["dog"]
    data = await patch("overwrite", {"metadata": {"z": "new"}, "concepts": [{"id": "bird"}]})
    assert data["metadata"] == {"z": "new"}
    assert [c["id"] for c in data["concepts"]] == ["bird"]
    r = await client.patch(f"{APP}/inputs", json={"inputs": [{"id": "ghost", "data": {}}]})
    assert r.status_code == 404


async def test_delete_inputs(client: httpx.AsyncClient, backend: LocalBackend) -> None:
    data = image_bytes("PNG", color=(9, 9, 9))
    await post(client, image_input("d1", data), image_input("d2", data), image_input("keep"))
    await backend.wait_idle(10)
    sha = backend.store.list_inputs(app_pk(backend), 10, 0, ids=["d1"])[0].blob_sha or ""
    assert backend.store.read_blob(sha) == data
    r = await client.request("DELETE", f"{APP}/inputs", json={"ids": ["d1", "ghost"]})
    assert r.status_code == 404 and "ghost" in r.json()["status"]["description"]
    r = await client.request("DELETE", f"{APP}/inputs", json={"ids": ["d1"]})
    assert r.status_code == 200 and r.json()["status"]["code"] == 10000
    assert backend.store.read_blob(sha) == data  # d2 still uses the same bytes
    r = await client.delete(f"{APP}/inputs/d2")
    assert r.status_code == 200
    with pytest.raises(FileNotFoundError):
        backend.store.read_blob(sha)
    r = await client.get(f"{APP}/inputs")
    assert [i["id"] for i in r.json()["inputs"]] == ["keep"]


async def test_image_bytes_routes(client: httpx.AsyncClient, backend: LocalBackend) -> None:
    big = image_bytes("JPEG", size=(800, 600))
    body = await post(client, image_input("big", big))
    url = body["inputs"][0]["data"]["image"]["url"]
    await backend.wait_idle(10)
    r = await client.get(url)
    assert r.status_code == 200 and r.content == big and r.headers["content-type"] == "image/jpeg"
    hosted = (await get_input(client, "big"))["data"]["image"]["hosted"]
    r = await client.get(f"{hosted['prefix']}/thumb/{hosted['suffix']}")
    thumb = Image.open(io.BytesIO(r.content))
    assert max(thumb.size) == 256
    r = await client.get(f"{hosted['prefix']}/huge/{hosted['suffix']}")
    assert r.status_code == 400
    r = await client.get(url, headers={"Authorization": "Key nope"})
    assert r.status_code == 401


async def test_processing_sets_the_sha_columns_only_where_they_get_a_value(
    client: httpx.AsyncClient, backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small image is its own thumbnail (thumb_sha stays empty, the thumb size serves the
    original), and the 30000 update names blob_sha / thumb_sha only when it sets them: SQLite
    rewrites the index entries of every column an UPDATE names, and those keys are random."""
    updates: list[str] = []
    finish = Store.finish_jobs

    def traced(store: Store, results: Any) -> None:
        conn = store._conn()
        conn.set_trace_callback(
            lambda sql: updates.append(sql) if sql.startswith("UPDATE inputs") else None
        )
        try:
            finish(store, results)
        finally:
            conn.set_trace_callback(None)

    monkeypatch.setattr(Store, "finish_jobs", traced)
    small = image_bytes("PNG", size=(64, 48))
    await post(
        client,
        image_input("small", small),
        image_input("big", image_bytes("JPEG", size=(800, 600))),
    )
    await backend.wait_idle(10)
    rows = {r.id: r for r in backend.store.list_inputs(app_pk(backend), 10, 0)}
    assert rows["small"].status_code == 30000 and rows["small"].thumb_sha is None
    assert rows["big"].thumb_sha and rows["big"].thumb_sha != rows["big"].blob_sha
    hosted = (await get_input(client, "small"))["data"]["image"]["hosted"]
    r = await client.get(f"{hosted['prefix']}/thumb/{hosted['suffix']}")
    assert r.status_code == 200 and r.content == small
    assert updates and not any("blob_sha" in sql for sql in updates)
    # the big one's thumbnail (SQLite reports a statement again as each trigger of it runs:
    # the input counts of migration 8)
    assert len({sql for sql in updates if "thumb_sha" in sql}) == 1


async def test_input_count(client: httpx.AsyncClient, backend: LocalBackend) -> None:
    await post(client, image_input("c1"), image_input("c2"), image_input("c3", b"junk"))
    await backend.wait_idle(10)
    r = await client.get(f"{APP}/inputs/status")
    assert r.json()["counts"] == {"processed": 2, "to_process": 0, "errors": 1, "processing": 0}
