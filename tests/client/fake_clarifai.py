"""A small in-memory Clarifai look-alike for upload tests (inputs, concepts, input status).

Inputs are accepted with 30001 PENDING; each ListInputs that returns an input advances it,
and after `process_after` sightings it becomes 30000, or 30002 with a reason when its bytes
do not start with the PNG signature (a "broken file"). Videos (``data.video``) are taken one
per request, as on the platform; a video URL listed in `html_urls` fails as the platform's
download would (it serves a web page).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

PNG = b"\x89PNG\r\n\x1a\n"
PREFIX = "/v2/users/me/apps/app1"


@dataclass
class Stored:
    id: str
    data: bytes
    url: str
    concepts: list[dict[str, Any]]
    seen: int = 0
    status: int = 30001
    description: str = "Download pending"
    details: str = ""
    kind: str = "image"
    metadata: dict[str, Any] = field(default_factory=dict)


def _status(code: int, description: str = "", details: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "description": description}
    if details:
        out["details"] = details
    return out


@dataclass
class FakeClarifai:
    process_after: int = 1
    inputs: dict[str, Stored] = field(default_factory=dict)
    created: Counter[str] = field(default_factory=Counter)
    concepts: dict[str, str] = field(default_factory=dict)
    post_calls: int = 0
    list_calls: int = 0
    block_post: int | None = None
    """Block (forever) the Nth PostInputs call after storing its inputs."""
    blocked: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[httpx.Request] = field(default_factory=list)
    html_urls: set[str] = field(default_factory=set)
    """Video URLs that serve a web page: they fail to process."""

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != "Key test-key":
            return httpx.Response(401, json={"status": _status(11008, "API key not found")})
        path = request.url.path
        if not path.startswith(PREFIX):
            return httpx.Response(404, json={"status": _status(11101, "Resource does not exist")})
        rest = path[len(PREFIX) :]
        if rest == "" and request.method == "GET":  # GetApp
            return ok({"app": {"id": "app1", "user_id": "me"}})
        if rest == "/inputs" and request.method == "POST":
            return await self._post_inputs(json.loads(request.content))
        if rest == "/inputs" and request.method == "GET":
            return self._list_inputs(request)
        if rest.startswith("/concepts/") and request.method == "GET":
            cid = rest.split("/")[-1]
            if cid in self.concepts:
                return ok({"concept": {"id": cid, "name": self.concepts[cid]}})
            return httpx.Response(404, json={"status": _status(11101, "Concept not found")})
        if rest == "/concepts" and request.method == "POST":
            body = json.loads(request.content)
            for c in body["concepts"]:
                self.concepts[c["id"]] = c.get("name", c["id"])
            return ok({"concepts": body["concepts"]})
        return httpx.Response(404, json={"status": _status(11102, f"no route {rest}")})

    async def _post_inputs(self, body: dict[str, Any]) -> httpx.Response:
        self.post_calls += 1
        if sum("video" in raw["data"] for raw in body["inputs"]) > 1:
            return httpx.Response(
                400,
                json={
                    "status": _status(
                        11102, "Invalid request", "Each request can include only 1 video input"
                    )
                },
            )
        items = []
        failures = 0
        for raw in body["inputs"]:
            iid = raw["id"]
            kind = "video" if "video" in raw["data"] else "image"
            image = raw["data"][kind]
            if iid in self.inputs:
                failures += 1
                items.append(
                    {"id": iid, "status": _status(30100, "Input has a duplicate ID", "dup")}
                )
                continue
            data = base64.b64decode(image["base64"]) if "base64" in image else b""
            if not data and "url" not in image:
                failures += 1
                items.append({"id": iid, "status": _status(30104, "Invalid input")})
                continue
            self.inputs[iid] = Stored(
                iid,
                data,
                image.get("url", ""),
                raw["data"].get("concepts", []),
                kind=kind,
                metadata=raw["data"].get("metadata", {}),
            )
            self.created[iid] += 1
            items.append({"id": iid, "status": _status(30001, "Download pending")})
        if self.block_post is not None and self.post_calls == self.block_post:
            self.blocked.set()
            await asyncio.Event().wait()
        code = 10000 if failures == 0 else (10020 if failures == len(items) else 10010)
        return ok({"inputs": items}, code=code)

    def _list_inputs(self, request: httpx.Request) -> httpx.Response:
        self.list_calls += 1
        ids = request.url.params.get_list("ids")
        chosen = (
            [self.inputs[i] for i in ids if i in self.inputs] if ids else list(self.inputs.values())
        )
        out = []
        for s in chosen:
            s.seen += 1
            if s.status == 30001 and s.seen >= self.process_after:
                if s.url in self.html_urls:
                    s.status, s.description = 30002, "Input failed to process"
                    s.details = "the URL served a web page (text/html), not a video"
                elif s.url or s.data.startswith(PNG) or s.kind == "video":
                    s.status, s.description = 30000, "Download complete"
                else:
                    s.status, s.description = 30002, "Input failed to process"
                    s.details = "cannot identify image file"
            out.append(
                {
                    "id": s.id,
                    "data": {s.kind: {"url": f"https://api.test/blobs/{s.id}"}},
                    "status": _status(s.status, s.description, s.details),
                }
            )
        return ok({"inputs": out})


def ok(payload: dict[str, Any], code: int = 10000) -> httpx.Response:
    description = {10000: "Ok", 10010: "Mixed Success", 10020: "Failure"}.get(code, "")
    return httpx.Response(200, json={"status": _status(code, description), **payload})
