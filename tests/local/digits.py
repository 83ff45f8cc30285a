"""Real labelled images for the models/workflows tests: scikit-learn's handwritten digits."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

import httpx

from api.demo import DemoImage, iter_digits
from api.local.backend import LocalBackend
from tests.local.conftest import APP, b64

SETTLED = {21100, 21106}


@functools.cache
def digits(limit: int = 400) -> tuple[DemoImage, ...]:
    return tuple(iter_digits(limit))


def of(concepts: tuple[str, ...], count: int, skip: int = 0) -> list[DemoImage]:
    """``count`` images of each concept, after skipping the first ``skip`` of each."""
    out: list[DemoImage] = []
    for concept in concepts:
        matching = [d for d in digits() if d.concept == concept]
        out.extend(matching[skip : skip + count])
    return out


async def add_images(
    client: httpx.AsyncClient,
    backend: LocalBackend,
    images: list[DemoImage],
    *,
    prefix: str = "d",
    labelled: bool = True,
) -> list[str]:
    """Post the images (labelled with their concept, or not); wait until processed."""
    inputs: list[dict[str, Any]] = []
    for image in images:
        data: dict[str, Any] = {"image": {"base64": b64(image.png)}}
        if labelled:
            data["concepts"] = [{"id": image.concept, "value": 1}]
        inputs.append({"id": f"{prefix}{image.index}", "data": data})
    for start in range(0, len(inputs), 128):
        r = await client.post(f"{APP}/inputs", json={"inputs": inputs[start : start + 128]})
        assert r.status_code == 200, r.text
    await backend.wait_idle(30)
    return [i["id"] for i in inputs]


OPERATOR_TYPES = ("concept-thresholder", "concept-threshold", "annotation-writer")


async def create_model(
    client: httpx.AsyncClient, model_id: str, type_id: str, **output_info: Any
) -> dict[str, Any]:
    """The platform's way: PostModels, then (for a thresholder or writer) its configuration as
    a first version with PostModelVersions; the answer of the last call. A classifier's
    concepts go on the model (the deprecated place its versions fall back to)."""
    model: dict[str, Any] = {"id": model_id, "model_type_id": type_id}
    operator = type_id in OPERATOR_TYPES
    if output_info and not operator:
        model["output_info"] = output_info
    r = await client.post(f"{APP}/models", json={"model": model})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["model"]
    if operator:
        result = await new_version(client, model_id, **output_info)
    return result


async def new_version(
    client: httpx.AsyncClient, model_id: str, **output_info: Any
) -> dict[str, Any]:
    """PostModelVersions with a configuration; the model as answered (its new version in
    ``model_version``)."""
    body = {"model_versions": [{"output_info": output_info}]}
    r = await client.post(f"{APP}/models/{model_id}/versions", json=body)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["model"]
    return result


def concepts(*ids: str, value: float | None = None) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"id": i} for i in ids]
    if value is not None:
        for item in items:
            item["value"] = value
    return {"concepts": items}


async def train(client: httpx.AsyncClient, model_id: str, timeout: float = 20) -> dict[str, Any]:
    """PostModelVersions, then poll GetModelVersion until 21100 or 21106."""
    r = await client.post(f"{APP}/models/{model_id}/versions", json={})
    assert r.status_code == 200, r.text
    version = r.json()["model"]["model_version"]
    assert version["status"]["code"] in (21103, 21101, 21100, 21106)
    return await wait_version(client, model_id, version["id"], timeout)


async def wait_version(
    client: httpx.AsyncClient,
    model_id: str,
    version_id: str,
    timeout: float = 20,
    *,
    app: str = APP,
) -> dict[str, Any]:
    """Poll GetModelVersion (under the app path `app`) until the version settles."""
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"{app}/models/{model_id}/versions/{version_id}")
        assert r.status_code == 200, r.text
        version: dict[str, Any] = r.json()["model_version"]
        if version["status"]["code"] in SETTLED:
            return version
        assert time.monotonic() < deadline, version
        await asyncio.sleep(0.02)


def public_embed(ident: str = "embed") -> dict[str, Any]:
    """A node with clarifai/main's embedder, named with its owner and version (as the docs)."""
    from api.local.public import EMBEDDER_MODEL, EMBEDDER_VERSION

    model = {
        "id": EMBEDDER_MODEL,
        "user_id": "clarifai",
        "app_id": "main",
        "model_version": {"id": EMBEDDER_VERSION},
    }
    return {"id": ident, "model": model}


def node(ident: str, model_id: str, *inputs: str, version: str = "") -> dict[str, Any]:
    model: dict[str, Any] = {"id": model_id}
    if version:
        model["model_version"] = {"id": version}
    out: dict[str, Any] = {"id": ident, "model": model}
    if inputs:
        out["node_inputs"] = [{"node_id": i} for i in inputs]
    return out


async def list_annotations(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    query: list[tuple[str, str]] = [("list_all_annotations", "true"), ("per_page", "1000")]
    for key, value in params.items():
        values = value if isinstance(value, list) else [value]
        query.extend((key, str(v)) for v in values)
    r = await client.get(f"{APP}/annotations", params=query)
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json().get("annotations", [])
    return result
