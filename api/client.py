"""The async Clarifai API adapter every screen and command talks through.

One `httpx.AsyncClient` per profile (HTTP/1.1 keep-alive, timeouts set), either on a base
URL or on `httpx.ASGITransport` over the embedded app. Typed methods per call, async
iterators for paged listings, automatic batching at 128, retries (see `api.retry`), and
per-item results for batch writes (MIXED_STATUS is never raised as one failure).

The key is sent as `Authorization: Key <key>` only to the base URL's origin, and appears in
no message, repr or log record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from api import wire
from api.errors import (
    CODE_CONNECTION,
    CODE_HTTP,
    CODE_TIMEOUT,
    ApiConnectionError,
    ApiError,
    redact,
    status_name,
)
from api.models import (
    Annotation,
    AnnotationResult,
    AnnotationUpdate,
    App,
    Concept,
    Input,
    InputCounts,
    InputRef,
    InputResult,
    InputUpdate,
    Model,
    ModelType,
    ModelVersion,
    NewAnnotation,
    NewInput,
    Page,
    Prediction,
    SearchFilter,
    SearchHit,
    Workflow,
    WorkflowNode,
    WorkflowResult,
)
from api.retry import RetryNotice, RetryPolicy, parse_retry_after

__all__ = ["BATCH_SIZE", "ClarifaiClient"]

log = logging.getLogger("api.client")

T = TypeVar("T")
BATCH_SIZE: Final = 128
DEFAULT_PER_PAGE: Final = 128
DEFAULT_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)
MAX_IMAGE_BYTES: Final = 32 * 1024 * 1024
#: PostWorkflowResults takes at most 32 inputs a call (Clarifai docs; the official SDK's
#: MAX_WORKFLOW_PREDICT_INPUTS): larger dry runs are sent in calls of 32.
MAX_WORKFLOW_INPUTS: Final = 32
PatchAction = Literal["merge", "overwrite", "remove"]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _no_item(_raw: Any) -> None:
    """`wire.batch_results`' parser when the caller keeps no item (see post_inputs_batch)."""
    return None


@dataclass
class _Trace:
    """What the retry loop saw of one call."""

    maybe_delivered: bool = False


class _KeyAuth(httpx.Auth):
    """Adds `Authorization: Key ...` to requests for the base URL's origin, and only those."""

    def __init__(self, api_key: str, base_url: str) -> None:
        self.__key = api_key
        self._origin = _origin(base_url)

    def auth_flow(self, request: httpx.Request) -> Any:
        url = request.url
        port = url.port or {"http": 80, "https": 443}.get(url.scheme)
        if (url.scheme, url.host.lower(), port) == self._origin:
            request.headers["Authorization"] = f"Key {self.__key}"
        yield request

    def __repr__(self) -> str:
        return "_KeyAuth(key=***)"


class _Connection:
    """What `with_app` clients share: the HTTP client, key, base URL and retry policy."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        transport: httpx.AsyncBaseTransport | None,
        retry: RetryPolicy,
        timeout: httpx.Timeout,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = api_key
        self.retry = retry
        self.on_retry: Callable[[RetryNotice], None] | None = None
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            auth=_KeyAuth(api_key, self.base_url),
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "clarifai-tui"},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            follow_redirects=False,
        )
        self._foreign: httpx.AsyncClient | None = None
        self.closed = False

    def foreign(self) -> httpx.AsyncClient:
        """A key-less client for image URLs on other hosts."""
        if self._foreign is None:
            self._foreign = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, follow_redirects=True)
        return self._foreign

    async def aclose(self) -> None:
        self.closed = True
        await self.http.aclose()
        if self._foreign is not None:
            await self._foreign.aclose()


class ClarifaiClient:
    """Typed async access to the Clarifai v2 API for one user (and optionally one app).

    App-scoped methods need an app: pass `app_id=` or use `client.with_app(app_id)`, which
    returns a client sharing this one's connection (close the one you built, once).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        user_id: str,
        app_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self._conn = _Connection(
            base_url, api_key, transport, retry or RetryPolicy(), timeout or DEFAULT_TIMEOUT
        )
        self.user_id = user_id
        self.app_id = app_id

    @classmethod
    def _sharing(cls, conn: _Connection, user_id: str, app_id: str | None) -> ClarifaiClient:
        client = cls.__new__(cls)
        client._conn = conn
        client.user_id = user_id
        client.app_id = app_id
        return client

    def with_app(self, app_id: str) -> ClarifaiClient:
        """A client bound to `app_id`, sharing this client's connection."""
        return ClarifaiClient._sharing(self._conn, self.user_id, app_id)

    def for_app(self, user_id: str, app_id: str) -> ClarifaiClient:
        """A client bound to another user's app (Clarifai's public `clarifai`/`main`), sharing
        this client's connection; that app can be read, not changed."""
        return ClarifaiClient._sharing(self._conn, user_id, app_id)

    @property
    def base_url(self) -> str:
        return self._conn.base_url

    def set_retry_listener(self, listener: Callable[[RetryNotice], None] | None) -> None:
        """Call `listener` before each wait for a retry (None stops it), so that a user sees
        why nothing moves meanwhile. Shared with the `with_app` clients of this connection."""
        self._conn.on_retry = listener

    def __repr__(self) -> str:
        return (
            f"ClarifaiClient(base_url={self._conn.base_url!r}, user_id={self.user_id!r}, "
            f"app_id={self.app_id!r})"
        )

    async def aclose(self) -> None:
        if not self._conn.closed:
            await self._conn.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -----------------------------------------------------------------------------------
    # Plumbing

    def _user_path(self, *parts: str) -> str:
        path = f"/v2/users/{quote(self.user_id, safe='')}"
        return "/".join([path, *(quote(p, safe="") for p in parts)])

    def _app_path(self, *parts: str) -> str:
        if not self.app_id:
            raise ValueError(
                "no app selected: build the client with app_id= or use client.with_app(app_id)"
            )
        return self._user_path("apps", self.app_id, *parts)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: wire.Params | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool,
        batch_key: str | None = None,
        client: httpx.AsyncClient | None = None,
        raw: bool = False,
        trace: _Trace | None = None,
    ) -> tuple[httpx.Response, dict[str, Any]]:
        """Send with retries; return the response and its JSON body, or raise ApiError.

        `trace`, when given, records whether an attempt may have reached the server before
        its answer was lost, so a batch write can tell its own earlier write from a duplicate.
        """
        policy = self._conn.retry
        http = client or self._conn.http
        started = policy.clock()
        attempt = 0
        label = f"{method} {urlsplit(url).path}"
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = await http.request(
                    method,
                    url,
                    params=tuple(params) if params is not None else None,
                    json=json,
                )
            except httpx.TransportError as exc:
                timeout = isinstance(exc, httpx.TimeoutException)
                not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if trace is not None and not not_sent:
                    trace.maybe_delivered = True
                error: ApiError = ApiConnectionError(
                    CODE_TIMEOUT if timeout else CODE_CONNECTION,
                    redact(
                        f"{'timed out talking to' if timeout else 'could not reach'} "
                        f"{self._conn.base_url} ({type(exc).__name__}"
                        + (f": {exc}" if str(exc) else "")
                        + ")",
                        self._conn.secret,
                    ),
                    http_status=None,
                    retryable=idempotent or not_sent,
                    request=label,
                )
            else:
                if raw and response.is_success:
                    return response, {}
                body = _json_body(response)
                code, description, details = wire.status_of(body)
                if response.is_success and code in (0, 10000):
                    return response, body
                if code == 10010 and batch_key is not None:
                    return response, body
                error = ApiError(
                    code or CODE_HTTP,
                    redact(description or response.reason_phrase, self._conn.secret),
                    redact(details, self._conn.secret),
                    http_status=response.status_code,
                    request=label,
                )
                if (
                    batch_key is not None
                    and not error.retryable
                    and not error.is_auth
                    and wire.items(body, batch_key)
                ):
                    return response, body  # a failed batch with per-item statuses
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if trace is not None and response.status_code in (500, 502, 504):
                    trace.maybe_delivered = True  # a gateway may have passed it on
                if not idempotent:
                    error.retryable = False
            if not error.retryable:
                raise error
            delay = policy.delay(attempt, retry_after)
            if not policy.may_retry(attempt, started, delay):
                if attempt > 1:
                    log.info("giving up on %s after %d attempts: %s", label, attempt, error.name)
                raise error
            notice = RetryNotice(label, attempt + 1, policy.max_attempts, delay, str(error))
            log.info("%s", notice.message)
            if self._conn.on_retry is not None:
                self._conn.on_retry(notice)
            await policy.sleep(delay)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: wire.Params | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        batch_key: str | None = None,
        trace: _Trace | None = None,
    ) -> dict[str, Any]:
        _, body = await self._send(
            method,
            path,
            params=params,
            json=json,
            idempotent=idempotent,
            batch_key=batch_key,
            trace=trace,
        )
        return body

    async def _list(
        self,
        path: str,
        key: str,
        parse: Callable[[Mapping[str, Any]], T],
        *,
        page: int,
        per_page: int,
        params: wire.Params | None = None,
    ) -> Page[T]:
        """One page of a List call: GET `path`, parse each item under `key`."""
        body = await self._call(
            "GET", path, params=params if params is not None else wire.page_params(page, per_page)
        )
        return Page([parse(item) for item in wire.items(body, key)], page=page, per_page=per_page)

    async def _iterate(
        self, fetch: Callable[[int, int], Awaitable[Page[T]]], per_page: int
    ) -> AsyncIterator[T]:
        page = 1
        while True:
            result = await fetch(page, per_page)
            for item in result:
                yield item
            if not result.has_more:
                return
            page += 1

    # -----------------------------------------------------------------------------------
    # Apps

    async def get_user_id(self) -> str:
        """The real id of the key's owner (GetUser on `/v2/users/{user_id}`): annotations come
        back with it, not with `me`."""
        body = await self._call("GET", self._user_path())
        return wire.user_id_from(body) or self.user_id

    async def list_apps(self, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> Page[App]:
        return await self._list(
            self._user_path("apps"),
            "apps",
            wire.app_from,
            page=page,
            per_page=per_page,
        )

    def iter_apps(self, *, per_page: int = DEFAULT_PER_PAGE) -> AsyncIterator[App]:
        return self._iterate(lambda p, n: self.list_apps(page=p, per_page=n), per_page)

    async def get_app(self, app_id: str | None = None) -> App:
        target = app_id or self.app_id
        if not target:
            raise ValueError("get_app needs an app id")
        body = await self._call("GET", self._user_path("apps", target))
        return wire.app_from(wire.single(body, "app"))

    async def app_exists(self, app_id: str | None = None) -> bool:
        """Whether the app exists (GetApp); other failures are raised."""
        try:
            await self.get_app(app_id)
        except ApiError as exc:
            if exc.is_not_found:
                return False
            raise
        return True

    async def create_app(
        self,
        app_id: str,
        *,
        name: str = "",
        description: str = "",
        base_workflow: str = "Universal",
    ) -> App:
        """PostApps on `base_workflow` of clarifai/main (Universal: the public embedder indexes
        the app's inputs, which auto-annotation needs)."""
        body = await self._call(
            "POST",
            self._user_path("apps"),
            json=wire.post_apps_body(app_id, name, description, base_workflow),
        )
        apps = wire.items(body, "apps")
        return wire.app_from(apps[0]) if apps else App(id=app_id, name=name)

    async def patch_app(
        self,
        app_id: str | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        default_workflow_id: str | None = None,
    ) -> App:
        """Change an app's name, description or default workflow."""
        target = app_id or self.app_id
        if not target:
            raise ValueError("patch_app needs an app id")
        body = await self._call(
            "PATCH",
            self._user_path("apps"),
            json=wire.patch_apps_body(
                target, name=name, description=description, default_workflow_id=default_workflow_id
            ),
        )
        apps = wire.items(body, "apps")
        return wire.app_from(apps[0]) if apps else await self.get_app(target)

    async def set_default_workflow(self, workflow_id: str) -> App:
        """Make `workflow_id` the current app's default workflow.

        There is no "clear": on Clarifai an app always has a default workflow (its base
        workflow to begin with), and `default_workflow_id: ""` cannot be sent (proto3 cannot
        tell an empty string from a field not sent). To stop auto-annotation, make a workflow
        without writers the default."""
        return await self.patch_app(default_workflow_id=workflow_id)

    # -----------------------------------------------------------------------------------
    # Inputs

    async def post_inputs(
        self,
        inputs: Sequence[NewInput],
        *,
        batch_size: int = BATCH_SIZE,
        concurrency: int = 1,
    ) -> list[InputResult]:
        """Add inputs in batches of 128; one result per input, in order.

        Each result is `created` (accepted, processing follows), `duplicate` (an input with
        that id is already in the app) or `failed` with the reason. Errors that concern the
        whole call (auth, connection, throttling after retries) raise ApiError.
        """
        batches = [list(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(batch: list[NewInput]) -> list[InputResult]:
            async with gate:
                return await self.post_inputs_batch(batch)

        done = await asyncio.gather(*(one(b) for b in batches))
        return [r for batch in done for r in batch]

    async def post_inputs_batch(
        self, batch: Sequence[NewInput], *, keep_inputs: bool = True
    ) -> list[InputResult]:
        """One PostInputs call (at most 128 inputs); see `post_inputs`.

        With ``keep_inputs=False`` the answer's inputs are not read into `Input` objects (each
        result's ``item`` stays None; outcome, status and reason are all there): the uploader
        needs only those, and reading each input (~3.5 us) is half of handling the answer."""
        if len(batch) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} inputs per call, got {len(batch)}")
        if not batch:
            return []
        trace = _Trace()
        body = await self._call(
            "POST",
            self._app_path("inputs"),
            json=wire.post_inputs_body(batch),
            idempotent=True,  # ids are chosen here: a retry cannot create a second copy
            batch_key="inputs",
            trace=trace,
        )
        code, description, details = wire.status_of(body)
        results = wire.batch_results(
            [i.input_id for i in batch],
            wire.items(body, "inputs"),
            code,
            description,
            details,
            wire.input_from if keep_inputs else _no_item,
            status_name,
        )
        if trace.maybe_delivered:
            results = [replace(r, after_lost_answer=True) for r in results]
        return results

    async def list_inputs(
        self,
        *,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
        status: int | None = None,
        ids: Sequence[str] | None = None,
    ) -> Page[Input]:
        return await self._list(
            self._app_path("inputs"),
            "inputs",
            wire.input_from,
            page=page,
            per_page=per_page,
            params=wire.list_inputs_params(page, per_page, status, ids),
        )

    def iter_inputs(
        self, *, per_page: int = DEFAULT_PER_PAGE, status: int | None = None
    ) -> AsyncIterator[Input]:
        return self._iterate(
            lambda p, n: self.list_inputs(page=p, per_page=n, status=status), per_page
        )

    async def get_input(self, input_id: str) -> Input:
        body = await self._call("GET", self._app_path("inputs", input_id))
        return wire.input_from(wire.single(body, "input"))

    async def patch_inputs(
        self, updates: Sequence[InputUpdate], *, action: PatchAction = "merge"
    ) -> list[Input]:
        out: list[Input] = []
        for start in range(0, len(updates), BATCH_SIZE):
            body = await self._call(
                "PATCH",
                self._app_path("inputs"),
                json=wire.patch_inputs_body(updates[start : start + BATCH_SIZE], action),
            )
            out.extend(wire.input_from(i) for i in wire.items(body, "inputs"))
        return out

    async def delete_inputs(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), BATCH_SIZE):
            await self._call(
                "DELETE",
                self._app_path("inputs"),
                json=wire.ids_body(ids[start : start + BATCH_SIZE]),
            )

    async def get_input_count(self) -> InputCounts:
        body = await self._call("GET", self._app_path("inputs", "status"))
        return wire.input_counts_from(body)

    async def fetch_image(self, source: Input | str, *, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
        """The image bytes of an input (or of a URL), for previews.

        URLs on the base URL's origin (or relative ones) are fetched with the key; others
        without it, through a separate client, following redirects.
        """
        url = source.url if isinstance(source, Input) else source
        if not url:
            raise ValueError("this input has no image URL")
        same_origin = url.startswith("/") or _origin(url) == _origin(self._conn.base_url)
        client = None if same_origin else self._conn.foreign()
        response, _ = await self._send("GET", url, idempotent=True, client=client, raw=True)
        content = response.content
        if len(content) > max_bytes:
            raise ApiError(
                CODE_HTTP,
                f"image is larger than {max_bytes} bytes",
                http_status=response.status_code,
                request=f"GET {urlsplit(url).path}",
            )
        return content

    # -----------------------------------------------------------------------------------
    # Concepts (Clarifai has no DeleteConcepts: concepts cannot be deleted from an app)

    async def list_concepts(
        self, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE
    ) -> Page[Concept]:
        return await self._list(
            self._app_path("concepts"),
            "concepts",
            wire.concept_from,
            page=page,
            per_page=per_page,
        )

    def iter_concepts(self, *, per_page: int = DEFAULT_PER_PAGE) -> AsyncIterator[Concept]:
        return self._iterate(lambda p, n: self.list_concepts(page=p, per_page=n), per_page)

    async def get_concept(self, concept_id: str) -> Concept:
        body = await self._call("GET", self._app_path("concepts", concept_id))
        return wire.concept_from(wire.single(body, "concept"))

    async def create_concepts(self, concepts: Sequence[Concept]) -> list[Concept]:
        out: list[Concept] = []
        for start in range(0, len(concepts), BATCH_SIZE):
            body = await self._call(
                "POST",
                self._app_path("concepts"),
                json=wire.concepts_body(concepts[start : start + BATCH_SIZE]),
            )
            out.extend(wire.concept_from(c) for c in wire.items(body, "concepts"))
        return out

    async def patch_concepts(
        self, concepts: Sequence[Concept], *, action: PatchAction = "overwrite"
    ) -> list[Concept]:
        """Rename concepts: `patch_concepts([Concept("cat", name="Cat")])`."""
        out: list[Concept] = []
        for start in range(0, len(concepts), BATCH_SIZE):
            body = await self._call(
                "PATCH",
                self._app_path("concepts"),
                json=wire.patch_concepts_body(concepts[start : start + BATCH_SIZE], action),
            )
            out.extend(wire.concept_from(c) for c in wire.items(body, "concepts"))
        return out

    # -----------------------------------------------------------------------------------
    # Annotations

    async def list_annotations(
        self,
        *,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
        ids: Sequence[str] | None = None,
        input_ids: Sequence[str] | None = None,
        user_ids: Sequence[str] | None = None,
        model_version_ids: Sequence[str] | None = None,
        list_all_annotations: bool = False,
    ) -> Page[Annotation]:
        params = wire.list_annotations_params(
            page,
            per_page,
            ids=ids,
            input_ids=input_ids,
            user_ids=user_ids,
            model_version_ids=model_version_ids,
            list_all_annotations=list_all_annotations,
        )
        body = await self._call("GET", self._app_path("annotations"), params=params)
        return Page(
            [wire.annotation_from(a) for a in wire.items(body, "annotations")],
            page=page,
            per_page=per_page,
        )

    def iter_annotations(
        self,
        *,
        per_page: int = DEFAULT_PER_PAGE,
        ids: Sequence[str] | None = None,
        input_ids: Sequence[str] | None = None,
        user_ids: Sequence[str] | None = None,
        model_version_ids: Sequence[str] | None = None,
        list_all_annotations: bool = False,
    ) -> AsyncIterator[Annotation]:
        return self._iterate(
            lambda p, n: self.list_annotations(
                page=p,
                per_page=n,
                ids=ids,
                input_ids=input_ids,
                user_ids=user_ids,
                model_version_ids=model_version_ids,
                list_all_annotations=list_all_annotations,
            ),
            per_page,
        )

    async def search_inputs(
        self,
        filters: Sequence[SearchFilter],
        *,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
    ) -> Page[SearchHit]:
        """One page of PostInputsSearches: the inputs that satisfy every filter, newest first."""
        return await self._search("inputs", filters, page, per_page)

    async def search_annotations(
        self,
        filters: Sequence[SearchFilter],
        *,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
    ) -> Page[SearchHit]:
        """One page of PostAnnotationsSearches: annotations (each with its input) matching
        every filter, newest first."""
        return await self._search("annotations", filters, page, per_page)

    def iter_search_inputs(
        self, filters: Sequence[SearchFilter], *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[SearchHit]:
        return self._iterate(lambda p, n: self.search_inputs(filters, page=p, per_page=n), per_page)

    def iter_search_annotations(
        self, filters: Sequence[SearchFilter], *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[SearchHit]:
        return self._iterate(
            lambda p, n: self.search_annotations(filters, page=p, per_page=n), per_page
        )

    async def _search(
        self, what: str, filters: Sequence[SearchFilter], page: int, per_page: int
    ) -> Page[SearchHit]:
        body = await self._call(
            "POST",
            self._app_path(what, "searches"),
            json=wire.search_body(filters, page, per_page),
            idempotent=True,  # a search writes nothing
        )
        hits = [wire.search_hit_from(hit) for hit in wire.items(body, "hits")]
        return Page(hits, page=page, per_page=per_page)

    async def post_annotations(
        self, annotations: Sequence[NewAnnotation]
    ) -> list[AnnotationResult]:
        """Add annotations in batches of 128; one result per annotation, in order."""
        out: list[AnnotationResult] = []
        for start in range(0, len(annotations), BATCH_SIZE):
            batch = annotations[start : start + BATCH_SIZE]
            body = await self._call(
                "POST",
                self._app_path("annotations"),
                json=wire.post_annotations_body(batch),
                idempotent=True,  # ids are chosen client-side
                batch_key="annotations",
            )
            code, description, details = wire.status_of(body)
            out.extend(
                wire.batch_results(
                    [a.id for a in batch],
                    wire.items(body, "annotations"),
                    code,
                    description,
                    details,
                    wire.annotation_from,
                    status_name,
                )
            )
        return out

    async def patch_annotations(
        self, updates: Sequence[AnnotationUpdate], *, action: PatchAction = "merge"
    ) -> list[Annotation]:
        """Change annotations' concepts and/or status (review: accept/reject)."""
        out: list[Annotation] = []
        for start in range(0, len(updates), BATCH_SIZE):
            body = await self._call(
                "PATCH",
                self._app_path("annotations"),
                json=wire.patch_annotations_body(updates[start : start + BATCH_SIZE], action),
            )
            out.extend(wire.annotation_from(a) for a in wire.items(body, "annotations"))
        return out

    async def set_annotation_status(
        self, annotations: Sequence[Annotation], status_code: int
    ) -> list[Annotation]:
        """Set the status of annotations (e.g. accept -> SUCCESS, reject -> REVIEW_DENIED)."""
        return await self.patch_annotations(
            [AnnotationUpdate(a.id, a.input_id, status_code=status_code) for a in annotations]
        )

    async def delete_annotation(self, input_id: str, annotation_id: str) -> None:
        await self._call("DELETE", self._app_path("inputs", input_id, "annotations", annotation_id))

    # -----------------------------------------------------------------------------------
    # Models and versions

    async def list_models(
        self,
        *,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
        model_type_id: str | None = None,
    ) -> Page[Model]:
        return await self._list(
            self._app_path("models"),
            "models",
            wire.model_from,
            page=page,
            per_page=per_page,
            params=wire.list_models_params(page, per_page, model_type_id),
        )

    def iter_models(
        self, *, per_page: int = DEFAULT_PER_PAGE, model_type_id: str | None = None
    ) -> AsyncIterator[Model]:
        return self._iterate(
            lambda p, n: self.list_models(page=p, per_page=n, model_type_id=model_type_id),
            per_page,
        )

    async def get_model(self, model_id: str) -> Model:
        """GetModel. On the platform its answer carries no configuration (concepts,
        thresholds, writer params): read that with `get_model_output_info`."""
        body = await self._call("GET", self._app_path("models", model_id))
        return wire.model_from(wire.single(body, "model"))

    async def get_model_output_info(self, model_id: str, version_id: str | None = None) -> Model:
        """GetModelOutputInfo: the model with its configuration (of `version_id`, or the
        latest version)."""
        parts = ["models", model_id]
        if version_id:
            parts += ["versions", version_id]
        body = await self._call("GET", self._app_path(*parts, "output_info"))
        return wire.model_from(wire.single(body, "model"))

    async def list_models_with_config(self, *, model_type_id: str | None = None) -> list[Model]:
        """Every model of the app, each with its configuration: ListModels, then one
        GetModelOutputInfo per model (a few at a time), since ListModels answers carry none."""
        models = [m async for m in self.iter_models(model_type_id=model_type_id)]
        gate = asyncio.Semaphore(8)

        async def configured(model: Model) -> Model:
            async with gate:
                return await self.get_model_output_info(model.id)

        return list(await asyncio.gather(*(configured(m) for m in models)))

    async def create_model(
        self, model_id: str, *, model_type_id: str, name: str = "", description: str = ""
    ) -> Model:
        """PostModels: the model and no version (as on the platform since 2023). Give it its
        configuration with `create_model_version`."""
        body = await self._call(
            "POST",
            self._app_path("models"),
            json=wire.post_models_body(
                model_id, model_type_id=model_type_id, name=name, description=description
            ),
        )
        return wire.model_from(wire.single(body, "model"))

    async def patch_model(
        self,
        model_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        action: PatchAction = "overwrite",
    ) -> Model:
        """PatchModels: model-level fields (name, description) only; on the platform it
        changes nothing in a version, so a configuration change is `create_model_version`."""
        body = await self._call(
            "PATCH",
            self._app_path("models"),
            json=wire.patch_models_body(
                model_id, action=action, name=name, description=description
            ),
        )
        models = wire.items(body, "models")
        return wire.model_from(models[0]) if models else await self.get_model(model_id)

    async def create_model_version(
        self,
        model_id: str,
        *,
        concepts: Sequence[Concept] | None = None,
        params: Mapping[str, Any] | None = None,
        concepts_mutually_exclusive: bool | None = None,
        description: str = "",
        train_params: Mapping[str, Any] | None = None,
        with_values: bool = True,
    ) -> Model:
        """PostModelVersions: a new version carrying the configuration (`concepts` with their
        values, the thresholds of a concept-thresholder; `params`). A thresholder's or
        writer's version is ready at once; a classifier's trains (poll `get_model_version`).
        The answer is the model, its new version in `version`.

        Never retried after the request may have reached the server (a retry would make a
        second version, or start a second training).
        """
        body = await self._call(
            "POST",
            self._app_path("models", model_id, "versions"),
            json=wire.post_model_versions_body(
                concepts=concepts,
                params=params,
                concepts_mutually_exclusive=concepts_mutually_exclusive,
                description=description,
                train_params=train_params,
                with_values=with_values,
            ),
            idempotent=False,
        )
        model = wire.model_from(wire.single(body, "model"))
        if model.version is None:
            version = wire.model_version_from(wire.single(body, "model_version"))
            model = replace(model, version=version)
        return model

    async def delete_model(self, model_id: str) -> None:
        await self._call("DELETE", self._app_path("models", model_id))

    async def list_model_types(self) -> list[ModelType]:
        body = await self._call("GET", self._app_path("models", "types"))
        return [wire.model_type_from(t) for t in wire.items(body, "model_types")]

    async def train_model(
        self,
        model_id: str,
        *,
        concepts: Sequence[Concept],
        description: str = "",
        train_params: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """PostModelVersions of a classifier: start training a new version on `concepts`
        (the version's output_info.data.concepts, as the docs and the SDK send them); poll
        `get_model_version`."""
        model = await self.create_model_version(
            model_id,
            concepts=concepts,
            description=description,
            train_params=train_params,
            with_values=False,
        )
        assert model.version is not None  # create_model_version fills it
        return model.version

    async def get_model_version(self, model_id: str, version_id: str) -> ModelVersion:
        body = await self._call("GET", self._app_path("models", model_id, "versions", version_id))
        return wire.model_version_from(wire.single(body, "model_version"))

    async def list_model_versions(
        self, model_id: str, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE
    ) -> Page[ModelVersion]:
        return await self._list(
            self._app_path("models", model_id, "versions"),
            "model_versions",
            wire.model_version_from,
            page=page,
            per_page=per_page,
        )

    async def versions_with_config(self, model_id: str, *, limit: int = 5) -> list[ModelVersion]:
        """The newest `limit` versions of a model, newest first, each with its configuration
        (concepts and params). A version listed without one (the platform may answer
        ListModelVersions without ``output_info``) is completed by its GetModelOutputInfo."""
        listed = list(await self.list_model_versions(model_id, per_page=limit))

        async def configured(version: ModelVersion) -> ModelVersion:
            if version.concepts or version.params:
                return version
            return await self.version_with_config(model_id, version.id)

        return list(await asyncio.gather(*(configured(v) for v in listed[:limit])))

    async def version_with_config(self, model_id: str, version_id: str) -> ModelVersion:
        """One version with its configuration (concepts, params): GetModelOutputInfo of it."""
        model = await self.get_model_output_info(model_id, version_id)
        version = model.version if model.version is not None else ModelVersion(version_id)
        return replace(version, concepts=model.concepts, params=model.params)

    async def predict(
        self, model_id: str, inputs: Sequence[InputRef], *, version_id: str | None = None
    ) -> list[Prediction]:
        """PostModelOutputs: one Prediction per input (each with its own status)."""
        parts = ["models", model_id]
        if version_id:
            parts += ["versions", version_id]
        out: list[Prediction] = []
        for start in range(0, len(inputs), BATCH_SIZE):
            body = await self._call(
                "POST",
                self._app_path(*parts, "outputs"),
                json=wire.predict_body(inputs[start : start + BATCH_SIZE]),
                batch_key="outputs",
            )
            out.extend(wire.prediction_from(o) for o in wire.items(body, "outputs"))
        return out

    # -----------------------------------------------------------------------------------
    # Workflows

    async def list_workflows(
        self, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE
    ) -> Page[Workflow]:
        return await self._list(
            self._app_path("workflows"),
            "workflows",
            wire.workflow_from,
            page=page,
            per_page=per_page,
        )

    def iter_workflows(self, *, per_page: int = DEFAULT_PER_PAGE) -> AsyncIterator[Workflow]:
        return self._iterate(lambda p, n: self.list_workflows(page=p, per_page=n), per_page)

    async def get_workflow(self, workflow_id: str) -> Workflow:
        body = await self._call("GET", self._app_path("workflows", workflow_id))
        return wire.workflow_from(wire.single(body, "workflow"))

    async def create_workflow(self, workflow: Workflow) -> Workflow:
        body = await self._call(
            "POST", self._app_path("workflows"), json=wire.post_workflows_body([workflow])
        )
        workflows = wire.items(body, "workflows")
        return wire.workflow_from(workflows[0]) if workflows else workflow

    async def patch_workflow(
        self, workflow: Workflow, *, action: PatchAction = "overwrite"
    ) -> Workflow:
        """Replace a workflow's nodes (action `overwrite`)."""
        body = await self._call(
            "PATCH", self._app_path("workflows"), json=wire.patch_workflows_body([workflow], action)
        )
        workflows = wire.items(body, "workflows")
        return wire.workflow_from(workflows[0]) if workflows else workflow

    async def delete_workflow(self, workflow_id: str) -> None:
        await self._call("DELETE", self._app_path("workflows", workflow_id))

    async def post_workflow_results(
        self,
        workflow_id: str,
        inputs: Sequence[InputRef],
        *,
        version_id: str | None = None,
        nodes: Sequence[WorkflowNode] | None = None,
    ) -> list[WorkflowResult]:
        """Run a workflow on inputs (existing ids, bytes or URLs), 32 a call, without adding
        them to the app. (The embedded backend writes nothing; the platform does not promise
        that for a workflow with annotation writers.)

        Each result has one NodeOutput per node, tagged with the node id (from `nodes` if
        given, else the response's workflow, else one GetWorkflow call).
        """
        parts = ["workflows", workflow_id]
        if version_id:
            parts += ["versions", version_id]
        results: list[WorkflowResult] = []
        for start in range(0, len(inputs), MAX_WORKFLOW_INPUTS):
            body = await self._call(
                "POST",
                self._app_path(*parts, "results"),
                json=wire.post_workflow_results_body(inputs[start : start + MAX_WORKFLOW_INPUTS]),
                batch_key="results",
            )
            part = wire.workflow_results_from(body, nodes)
            if nodes is None and wire.results_need_node_ids(part):
                nodes = (await self.get_workflow(workflow_id)).nodes
                part = wire.workflow_results_from(body, nodes)
            results.extend(part)
        return results


def _json_body(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
