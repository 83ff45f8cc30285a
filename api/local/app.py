"""The embedded backend's Starlette application: routes -> handlers, JSON errors everywhere.

Every Clarifai call lives in a route module (``api.local.routes``); this module mounts them under
``/v2/users/{user_id}`` and makes sure that anything else (an unknown path, a wrong method) is
still answered with a JSON ``status``, as the official clients expect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.local.http import RouteSpec, failure_response, make_endpoint, route_not_found
from api.local.routes import all_routes
from api.local.status import CONN_INVALID_REQUEST, CONN_METHOD_NOT_ALLOWED, ApiFailure

if TYPE_CHECKING:
    from api.local.services import Services

PREFIX = "/v2/users/{user_id}"


def to_routes(specs: list[RouteSpec]) -> list[Route]:
    return [
        Route(PREFIX + spec.path, make_endpoint(spec), methods=[spec.method], name=spec.name)
        for spec in specs
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return failure_response(route_not_found(request.method, request.url.path))
    if exc.status_code == 405:
        return failure_response(
            ApiFailure(
                CONN_METHOD_NOT_ALLOWED,
                f"{request.method} is not allowed on {request.url.path}",
                http_status=405,
            )
        )
    return failure_response(
        ApiFailure(CONN_INVALID_REQUEST, exc.detail or "bad request", http_status=exc.status_code)
    )


def build_app(backend: Services) -> Starlette:
    """The ASGI app. Its lifespan (run by uvicorn, not by httpx.ASGITransport) starts and stops
    the backend; in-process users call ``backend.start()`` / ``stop()`` themselves."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await backend.start()
        try:
            yield
        finally:
            await backend.stop()

    app = Starlette(
        routes=to_routes(all_routes()),
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    # Starlette answers ``/inputs/`` with a bodiless 307 to ``/inputs`` by default; Clarifai's
    # clients read a JSON status from every answer, so unknown paths get the 11101 JSON instead.
    app.router.redirect_slashes = False
    app.state.backend = backend
    return app
