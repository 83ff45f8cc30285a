"""What the platform's REST gateway can parse, from the clarifai-grpc protos, as a checker of
requests (issue #29). A request breaks a rule when:

- its method and path match no ``google.api.http`` binding of the V2 service;
- its JSON body does not parse into the request message (unknown fields an error);
- a query key is not a path of fields of the request message, or goes through a repeated
  message (grpc-gateway v1 "unexpected repeated field", v2 "is not a message"), or ends on a
  message (a query value can only set a scalar or a repeated scalar).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor


@dataclass(frozen=True)
class Route:
    verb: str
    pattern: re.Pattern[str]
    message: str
    has_body: bool


@cache
def routes() -> tuple[Route, ...]:
    from clarifai_grpc.grpc.api import service_pb2
    from google.api import annotations_pb2

    out: list[Route] = []
    service = service_pb2.DESCRIPTOR.services_by_name["V2"]
    for method in service.methods:
        rule = method.GetOptions().Extensions[annotations_pb2.http]
        for binding in (rule, *rule.additional_bindings):
            verb = binding.WhichOneof("pattern")
            if verb is None or verb == "custom":
                continue
            template = getattr(binding, verb)
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
            out.append(Route(verb.upper(), pattern, method.input_type.name, binding.body == "*"))
    return tuple(out)


def route_for(method: str, path: str) -> Route | None:
    # A literal segment beats a variable one (".../models/types" before ".../models/{id}").
    found = [r for r in routes() if r.verb == method and r.pattern.match(path)]
    found.sort(key=lambda r: r.pattern.pattern.count("[^/]+"))
    return found[0] if found else None


def query_problem(descriptor: Descriptor, key: str) -> str | None:
    """Why grpc-gateway could not set query key ``key`` on the request message (or None)."""
    parts = key.split(".")
    current = descriptor
    for index, part in enumerate(parts):
        found: FieldDescriptor | None = current.fields_by_name.get(part)
        if found is None:
            return f"{key}: {current.name} has no field {part!r}"
        last = index == len(parts) - 1
        is_message = found.type == FieldDescriptor.TYPE_MESSAGE
        repeated = found.is_repeated
        if not last:
            if not is_message:
                return f"{key}: {part} is not a message"
            if repeated:
                return f"{key}: {part} is a repeated message, which a query path cannot cross"
            current = found.message_type
        elif is_message and not found.message_type.GetOptions().map_entry:
            wrapper = found.message_type.full_name.startswith("google.protobuf.")
            if not wrapper:
                return f"{key}: {part} is a message; a query value sets only scalars"
    return None


@dataclass
class Recorder:
    """Checks and keeps every request; ``problems`` lists each broken rule."""

    seen: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: (method and path, JSON body) of every request that had a body.
    bodies: list[tuple[str, Any]] = field(default_factory=list)
    #: Paths the adapter tries knowingly though the platform lacks them (answered 404 here).
    extensions: tuple[str, ...] = ()

    def check(self, request: httpx.Request) -> bool:
        """True when the request is a known extension, to be answered 404 (as the platform)."""
        from clarifai_grpc.grpc.api import service_pb2

        method, path = request.method, request.url.path
        self.seen.append(f"{method} {path}")
        if any(path.endswith(e) for e in self.extensions):
            return True
        route = route_for(method, path)
        if route is None:
            self.problems.append(f"{method} {path}: no such route on the platform")
            return False
        message = getattr(service_pb2, route.message)
        if request.content:
            self.bodies.append((f"{method} {path}", json.loads(request.content)))
            if not route.has_body:
                self.problems.append(f"{method} {path}: a body where the route takes none")
            try:
                json_format.ParseDict(
                    json.loads(request.content), message(), ignore_unknown_fields=False
                )
            except (json_format.ParseError, ValueError) as exc:
                self.problems.append(f"{method} {path}: body: {exc}")
        for key in dict.fromkeys(k for k, _ in request.url.params.multi_items()):
            problem = query_problem(message.DESCRIPTOR, key)
            if problem:
                self.problems.append(f"{method} {path}: {problem}")
        return False


class CheckingTransport(httpx.AsyncBaseTransport):
    """Checks each request with a Recorder, then hands it to ``inner`` (the embedded server)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.recorder.check(request):
            body = {"status": {"code": 11101, "description": "Resource does not exist"}}
            return httpx.Response(404, json=body)
        return await self.inner.handle_async_request(request)


def checked_client(backend: Any, recorder: Recorder, key: str) -> Any:
    """The remote profile's client against `backend` (the embedded server, in-process), every
    request checked by `recorder` on its way."""
    from api.client import ClarifaiClient
    from api.retry import RetryPolicy
    from tests.client.conftest import Sleeps

    return ClarifaiClient(
        base_url="https://platform.test",
        api_key=key,
        user_id="me",
        transport=CheckingTransport(httpx.ASGITransport(app=backend.app), recorder),
        retry=RetryPolicy(sleep=Sleeps()),
    )
