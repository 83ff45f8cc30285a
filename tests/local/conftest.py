"""Fixtures for the embedded backend: a started LocalBackend, an in-process client, images."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from PIL import Image

from api.local.backend import LocalBackend
from api.local.imaging import IngestLimits

KEY = "test-key"
APP = "/v2/users/me/apps/app"


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (32, 24), color: Any = (200, 30, 30)
) -> bytes:
    out = io.BytesIO()
    mode = "P" if fmt == "GIF" else "RGB"
    image = Image.new("RGB", size, color)
    if mode == "P":
        image = image.convert("P")
    image.save(out, fmt)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image_input(ident: str, data: bytes | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"image": {"base64": b64(data if data is not None else image_bytes())}}
    body.update(extra)
    return {"id": ident, "data": body}


def parse(payload: dict[str, Any], message: type[Message]) -> Message:
    """The contract check: the response parses into its proto, unknown fields an error."""
    return json_format.ParseDict(payload, message(), ignore_unknown_fields=False)


def make_backend(path: Path, **kwargs: Any) -> LocalBackend:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault(
        "limits", IngestLimits(max_bytes=2_000_000, max_pixels=4_000_000, url_timeout=2.0)
    )
    return LocalBackend(path, **kwargs)


def client_for(backend: LocalBackend, key: str | None = KEY) -> httpx.AsyncClient:
    headers = {"Authorization": f"Key {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend.app), base_url="http://local", headers=headers
    )


@pytest.fixture
def backend_factory(tmp_path: Path) -> Callable[..., LocalBackend]:
    def factory(**kwargs: Any) -> LocalBackend:
        return make_backend(tmp_path / "data", **kwargs)

    return factory


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[LocalBackend]:
    b = make_backend(tmp_path / "data")
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


@pytest.fixture
async def client(backend: LocalBackend) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(backend) as c:
        response = await c.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
        assert response.status_code == 200, response.text
        yield c
