"""The ``inputs`` of PostModelOutputs and PostWorkflowResults: existing ids, bytes or URLs.

Nothing here writes to the app: bytes and downloads are decoded in memory, an existing input's
stored embedding is reused (or its image embedded again, without storing the result).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from api.local.automation import Source, default_embedder, vector_of
from api.local.convert import frame_json
from api.local.http import MAX_BATCH, Call, batch, valid_id
from api.local.imaging import ImageRejected, IngestLimits, decode, probe, to_rgb
from api.local.jsonio import Obj
from api.local.routes import parse
from api.local.rows import AppRow
from api.local.status import (
    FAILURE,
    INPUT_FAILED,
    INPUT_SUCCESS,
    SUCCESS,
    ApiFailure,
    invalid,
    status_json,
)
from api.local.store import new_id
from api.models import DEFAULT_SAMPLE_MS

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

    from api.local.engine import ResolvedClassifier
    from api.local.nodes.embedder import Embedder

INPUT_DOES_NOT_EXIST = 30102
#: A model that cannot take this input (the platform's MODEL_INVALID_ARGUMENT).
MODEL_INVALID_ARGUMENT = 21202

#: Inputs of one request loaded (downloaded, decoded, embedded) at once. The decoded pixels
#: alive at once are bounded by the backend's pixel budget (api.local.budget), whatever this is.
LOAD_CONCURRENCY = 4


def _decode_rgb(data: bytes, limits: IngestLimits) -> Image.Image:
    """Blocking: the image as RGB, decoded in full (for an embedder other than the default)."""
    return to_rgb(decode(data, limits, thumbnail=False).image)


def _embed_bytes(data: bytes, limits: IngestLimits) -> npt.NDArray[np.float32]:
    """Blocking: the default embedder's vector of an image. The decoded pixels are released
    when this returns: only the vector is kept, not the image."""
    return default_embedder().embed(_decode_rgb(data, limits))


def _load_existing(call: Call, app: AppRow, source: Source) -> bytes | str | None:
    """Blocking: an existing input's embedding (stored, put in ``source``) or its image bytes
    (returned, to decode). None when the source is done (embedded, or failed)."""
    row = call.store.get_input(app.pk, source.input_id)
    if row is None:
        source.error_code = INPUT_DOES_NOT_EXIST
        source.error = f"input '{source.input_id}' does not exist in this app"
        return None
    if row.status_code != INPUT_SUCCESS:
        source.error_code = INPUT_FAILED
        source.error = (
            f"input '{source.input_id}' is not processed (status {row.status_code}: "
            f"{row.status_description or 'pending'}); wait for 30000"
        )
        return None
    if row.kind == "video":
        # Its frames are sampled and embedded again (a video keeps no embedding of its own):
        # from its blob file, streamed, when it has one.
        source.frames = []
        try:
            return call.store.blob_source(row.blob_sha or "")
        except FileNotFoundError:
            source.error = f"the video bytes of input '{source.input_id}' are missing"
            return None
    embedder = default_embedder()
    stored = call.backend.automation.models.embeddings([row.pk], embedder.id).get(row.pk)
    if stored is not None and stored.dim == embedder.dim:
        source.embeddings[embedder.id] = vector_of(stored)
        return None  # embedded at ingest: no need to decode the image again
    if not row.blob_sha:
        source.error = f"input '{source.input_id}' has no stored image bytes"
        return None
    try:
        return call.store.read_blob(row.blob_sha)
    except FileNotFoundError:
        source.error = f"the image bytes of input '{source.input_id}' are missing"
        return None


#: PostWorkflowResults takes at most 32 inputs a call on the platform (Clarifai docs; the
#: official SDK's MAX_WORKFLOW_PREDICT_INPUTS); PostModelOutputs takes 128.
MAX_WORKFLOW_INPUTS = 32


async def _prepare(call: Call, source: Source, data: bytes) -> None:
    """Embed ``data`` with the default embedder inside the pixel budget; keep the bytes (not
    the pixels) for any other embedder the request runs, which decodes them when it needs them.

    The header is read first (no pixel decoded): an image over IngestLimits.max_pixels fails
    here with its own error, and the budget is taken for the pixels the decode will hold."""
    limits = call.backend.ingest.limits
    header = await asyncio.to_thread(probe, data, limits)
    async with call.backend.decode_budget.hold(header.decode_pixels):
        vector = await asyncio.to_thread(_embed_bytes, data, limits)
    source.embeddings[default_embedder().id] = vector
    loader: Callable[[], Image.Image] = functools.partial(_decode_rgb, data, limits)
    source.image = loader


async def _prepare_video(call: Call, app: AppRow, source: Source, data: bytes | str) -> None:
    """Sample and embed a video's frames (in a thread; one frame group held at a time)."""
    from api.local.video_analysis import analyse_video

    limits = call.backend.ingest.limits
    embedder = call.backend.automation.embedder_name
    sample_ms = app.sample_ms or DEFAULT_SAMPLE_MS
    analysed = await asyncio.to_thread(analyse_video, data, limits, embedder, sample_ms)
    if not analysed.ok:
        raise ImageRejected(analysed.error)
    source.frames = list(analysed.frames)


async def _load(
    call: Call, app: AppRow, source: Source, url: str, blob: bytes | None, video: bool
) -> None:
    try:
        if video:
            source.frames = []
        data: bytes | str | None
        if blob is not None:
            data = blob
        elif url:
            data = await call.backend.ingest.fetch(url, video=video)
        else:
            data = await call.db(_load_existing, call, app, source)
        if data is not None and source.frames is not None:
            await _prepare_video(call, app, source, data)
        elif isinstance(data, bytes):
            await _prepare(call, source, data)
    except ImageRejected as exc:
        source.error_code = INPUT_FAILED
        source.error = exc.description
    except ApiFailure:
        raise
    except Exception as exc:  # a decoder or embedder bug fails this input, not the request
        source.error_code = FAILURE
        source.error = f"processing failed: {type(exc).__name__}: {exc}"


async def load_sources(
    call: Call, app: AppRow, body: Obj, *, limit: int = MAX_BATCH, why: str = ""
) -> list[Source]:
    """Parse and load ``body.inputs``; a bad item gets its own error, not the whole call.

    Every item is checked before any is loaded; then at most LOAD_CONCURRENCY load at once,
    and each keeps its vector, not its decoded pixels (see _prepare)."""
    items = body.get_objs("inputs")
    batch(items, body.field("inputs"), limit, why)
    sources: list[Source] = []
    jobs: list[tuple[Source, str, bytes | None, bool]] = []
    for item in items:
        data = item.get_obj("data")
        parse.only_fields(data, {"image", "video"}, "input data")
        kind = parse.media_kind(data)
        image = data.get_obj(kind)
        parse.only_fields(image, {"url", "base64", "allow_duplicate_url"}, f"data.{kind}")
        url = image.get_str("url").strip()
        blob = image.get_bytes("base64")
        ident = item.get_str("id")
        if ident:
            valid_id(ident, item.field("id"))
        if url and blob is not None:
            raise invalid(image.field("url"), "send either url or base64, not both")
        if not url and blob is None and not ident:
            raise invalid(
                item.field(f"data.{kind}"),
                f"each input needs an existing input id, or data.{kind}.base64 or url",
            )
        echo: dict[str, Any] = {"id": ident or new_id()}
        if url:
            echo["data"] = {kind: {"url": url}}
        source = Source(input_id=echo["id"], echo=echo)
        sources.append(source)
        jobs.append((source, url, blob, kind == "video"))
    gate = asyncio.Semaphore(LOAD_CONCURRENCY)

    async def one(source: Source, url: str, blob: bytes | None, video: bool) -> None:
        async with gate:
            await _load(call, app, source, url, blob, video)

    await asyncio.gather(*(one(*job) for job in jobs))
    return sources


def prediction_data(
    vector: npt.NDArray[np.float32], classifier: ResolvedClassifier | None
) -> dict[str, Any]:
    """PostModelOutputs' ``data`` from an embedding: the embedding itself (an embedder), or
    the classifier's concepts."""
    if classifier is None:
        values = [float(v) for v in vector]
        return {"embeddings": [{"vector": values, "num_dimensions": len(values)}]}
    concepts = classifier.classifier.predict_concepts(vector, classifier.concept_names)
    return {"concepts": [c.to_dict() for c in concepts]}


def predict_frames(
    source: Source, embedder: Embedder, classifier: ResolvedClassifier | None
) -> dict[str, Any]:
    """PostModelOutputs on a video: the model on each sampled frame (``data.frames``), from
    the frames' default-embedder vectors. Blocking."""
    import numpy as np

    if embedder.id != default_embedder().id:
        return {
            "status": status_json(
                MODEL_INVALID_ARGUMENT,
                f"video frames are embedded with {default_embedder().id} only; {embedder.id} "
                "cannot run on a video here",
            ),
            "data": {},
        }
    frames: list[dict[str, Any]] = []
    for sampled in source.frames or []:
        assert sampled.vector is not None
        vector = np.frombuffer(sampled.vector, dtype=np.float32)
        data = prediction_data(vector, classifier)
        frames.append(frame_json((sampled.index, sampled.time_ms), data))
    return {"status": status_json(SUCCESS), "data": {"frames": frames}}
