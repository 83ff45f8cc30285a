"""The ``inputs`` of PostModelOutputs and PostWorkflowResults: existing ids, bytes or URLs.

Nothing here writes to the app: bytes and downloads are decoded in memory, an existing input's
stored embedding is reused (or its image embedded again, without storing the result).
"""

from __future__ import annotations

import asyncio
from typing import Any

from api.local.automation import Source, default_embedder, vector_of
from api.local.http import MAX_BATCH, Call, batch, valid_id
from api.local.imaging import ImageRejected, check_size, decode, to_rgb
from api.local.jsonio import Obj
from api.local.routes import parse
from api.local.rows import AppRow
from api.local.status import INPUT_FAILED, INPUT_SUCCESS, invalid
from api.local.store import new_id

INPUT_DOES_NOT_EXIST = 30102


def _decode(call: Call, data: bytes) -> Any:
    check_size(len(data), call.backend.ingest.limits)
    return to_rgb(decode(data, call.backend.ingest.limits).image)


def _load_existing(call: Call, app: AppRow, source: Source) -> None:
    """Blocking: an existing input's embedding (stored) or image (from its blob)."""
    row = call.store.get_input(app.pk, source.input_id)
    if row is None:
        source.error_code = INPUT_DOES_NOT_EXIST
        source.error = f"input '{source.input_id}' does not exist in this app"
        return
    if row.status_code != INPUT_SUCCESS:
        source.error_code = INPUT_FAILED
        source.error = (
            f"input '{source.input_id}' is not processed (status {row.status_code}: "
            f"{row.status_description or 'pending'}); wait for 30000"
        )
        return
    embedder = default_embedder()
    stored = call.backend.automation.models.embeddings([row.pk], embedder.id).get(row.pk)
    if stored is not None and stored.dim == embedder.dim:
        source.embeddings[embedder.id] = vector_of(stored)
        return  # embedded at ingest: no need to decode the image again
    if not row.blob_sha:
        source.error = f"input '{source.input_id}' has no stored image bytes"
        return
    try:
        source.image = _decode(call, call.store.read_blob(row.blob_sha))
    except FileNotFoundError:
        source.error = f"the image bytes of input '{source.input_id}' are missing"
    except ImageRejected as exc:
        source.error = exc.description


#: PostWorkflowResults takes at most 32 inputs a call on the platform (Clarifai docs; the
#: official SDK's MAX_WORKFLOW_PREDICT_INPUTS); PostModelOutputs takes 128.
MAX_WORKFLOW_INPUTS = 32


async def load_sources(
    call: Call, app: AppRow, body: Obj, *, limit: int = MAX_BATCH, why: str = ""
) -> list[Source]:
    """Parse and load ``body.inputs``; a bad item gets its own error, not the whole call."""
    items = body.get_objs("inputs")
    batch(items, body.field("inputs"), limit, why)
    sources: list[Source] = []
    for item in items:
        data = item.get_obj("data")
        parse.only_fields(data, {"image"}, "input data")
        image = data.get_obj("image")
        parse.only_fields(image, {"url", "base64", "allow_duplicate_url"}, "data.image")
        url = image.get_str("url").strip()
        blob = image.get_bytes("base64")
        ident = item.get_str("id")
        if ident:
            valid_id(ident, item.field("id"))
        if url and blob is not None:
            raise invalid(image.field("url"), "send either url or base64, not both")
        if not url and blob is None and not ident:
            raise invalid(
                item.field("data.image"),
                "each input needs an existing input id, or data.image.base64 or url",
            )
        existing = not url and blob is None
        echo: dict[str, Any] = {"id": ident or new_id()}
        if url:
            echo["data"] = {"image": {"url": url}}
        source = Source(input_id=echo["id"], echo=echo)
        sources.append(source)
        try:
            if existing:
                await call.db(_load_existing, call, app, source)
            elif blob is not None:
                source.image = await asyncio.to_thread(_decode, call, blob)
            else:
                downloaded = await call.backend.ingest.fetch(url)
                source.image = await asyncio.to_thread(_decode, call, downloaded)
        except ImageRejected as exc:
            source.error_code = INPUT_FAILED
            source.error = exc.description
    return sources
