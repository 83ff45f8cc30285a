"""The async Clarifai API adapter every screen and command talks through.

One `httpx.AsyncClient` per profile (HTTP/1.1 keep-alive, timeouts set), either on a base
URL or on `httpx.ASGITransport` over the embedded app. Typed methods per call, async
iterators for paged listings, automatic batching at 128, retries (see `api.retry`), and
per-item results for batch writes (MIXED_STATUS is never raised as one failure).

The key is sent as `Authorization: Key <key>` only to the base URL's origin, and appears in
no message, repr or log record.

`ClarifaiClient` is one class made of one mixin per resource over one transport:
- `core`: the shared connection, paths, the call loop with retries and error mapping, paging;
- `apps`, `concepts`, `inputs`, `annotations`, `searches`, `models` (models, versions and
  predict), `workflows`: the calls on each resource.
"""

from __future__ import annotations

from api.client.annotations import AnnotationCalls
from api.client.apps import AppCalls
from api.client.concepts import ConceptCalls
from api.client.core import (
    BATCH_SIZE,
    DEFAULT_PER_PAGE,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    PatchAction,
)
from api.client.inputs import MAX_IMAGE_BYTES, InputCalls
from api.client.models import ModelCalls
from api.client.searches import SearchCalls
from api.client.workflows import MAX_WORKFLOW_INPUTS, WorkflowCalls
from api.models import Page

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_PER_PAGE",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "MAX_IMAGE_BYTES",
    "MAX_RESPONSE_BYTES",
    "MAX_WORKFLOW_INPUTS",
    "ClarifaiClient",
    "Page",
    "PatchAction",
]


class ClarifaiClient(
    AppCalls, ConceptCalls, InputCalls, AnnotationCalls, SearchCalls, ModelCalls, WorkflowCalls
):
    """Typed async access to the Clarifai v2 API for one user (and optionally one app).

    App-scoped methods need an app: pass `app_id=` or use `client.with_app(app_id)`, which
    returns a client sharing this one's connection (close the one you built, once).
    """
