"""Inputs: PostInputs in batches of 128 with per-item results, listing, patching, deleting,
counts, and fetching an input's image for previews.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any, Final

from api import wire
from api.client.core import (
    BATCH_SIZE,
    DEFAULT_PER_PAGE,
    ClientCore,
    PatchAction,
    _origin,
    _Trace,
)
from api.errors import status_name
from api.models import Input, InputCounts, InputResult, InputUpdate, NewInput, Page

MAX_IMAGE_BYTES: Final = 32 * 1024 * 1024


def _no_item(_raw: Any) -> None:
    """`wire.batch_results`' parser when the caller keeps no item (see post_inputs_batch)."""
    return None


class InputCalls(ClientCore):
    """The calls on an app's inputs."""

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
        _, _, content = await self._send(
            "GET", url, idempotent=True, client=client, raw=True, max_bytes=max_bytes
        )
        return content
