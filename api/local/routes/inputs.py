"""PostInputs, ListInputs, GetInput, PatchInputs, DeleteInputs, GetInputCount, image bytes."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import Response

from api.local.convert import counts_json, input_json
from api.local.http import Call, RouteSpec, batch, valid_id
from api.local.imaging import ImageRejected, check_size, check_video_size
from api.local.jsonio import Obj, paging, timestamp
from api.local.routes import parse
from api.local.rows import AddJobRow, InputPatch, NewInput
from api.local.status import (
    INPUT_FAILED,
    INPUT_PENDING,
    MIXED_STATUS,
    SUCCESS,
    invalid,
    not_found,
    status_json,
)
from api.local.store import new_id
from api.video import VIDEOS_PER_REQUEST
from api.video import sniff as sniff_video

_VIDEO_MEDIA = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "3gp": "video/3gpp",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "avi": "video/x-msvideo",
    "wmv": "video/x-ms-wmv",
}

_DATA_FIELDS = {"image", "video", "concepts", "metadata"}
_IMAGE_FIELDS = {"url", "base64", "allow_duplicate_url"}


def _new_input(call: Call, item: Obj) -> NewInput:
    ident = item.get_str("id") or new_id()
    valid_id(ident, item.field("id"))
    data = item.get_obj("data")
    parse.only_fields(data, _DATA_FIELDS, "input data")
    kind = parse.media_kind(data)
    media = data.get_obj(kind)
    parse.only_fields(media, _IMAGE_FIELDS, f"data.{kind}")
    url = media.get_str("url").strip()
    blob = media.get_bytes("base64")
    if url and blob is not None:
        raise invalid(media.field("url"), "send either url or base64, not both")
    if not url and blob is None:
        raise invalid(
            media.field("base64"),
            f"{'a video' if kind == 'video' else 'an image'} is required: set data.{kind}.url "
            "or base64",
        )
    metadata = data.get_struct("metadata") or {}
    new = NewInput(
        id=ident,
        source_url=url,
        blob=blob,
        metadata=metadata,
        concepts=parse.concepts(data),
        kind=kind,
    )
    if blob is not None:
        try:
            if kind == "video":
                check_video_size(len(blob), call.backend.ingest.limits.max_video_bytes)
            else:
                check_size(len(blob), call.backend.ingest.limits)
        except ImageRejected as exc:
            new.blob = None
            new.status_code = INPUT_FAILED
            new.status_description = exc.description
    return new


def _check_videos(items: list[NewInput], where: str) -> None:
    """As on the platform: one video a request ("Each request can include only 1 video input")."""
    videos = sum(1 for item in items if item.kind == "video")
    if videos > VIDEOS_PER_REQUEST:
        raise invalid(
            where,
            f"{videos} video inputs in one request; the platform takes {VIDEOS_PER_REQUEST} "
            "video a PostInputs request: send each video in its own request",
        )


async def post_inputs(call: Call) -> dict[str, Any]:
    app = await call.app()
    body = await call.body()
    items = body.get_objs("inputs")
    batch(items, body.field("inputs"))
    new = [_new_input(call, item) for item in items]
    _check_videos(new, body.field("inputs"))
    add_job_id = body.get_str("inputs_add_job_id")
    if add_job_id:
        valid_id(add_job_id, body.field("inputs_add_job_id"))

    # One trip to a worker thread: blobs and rows are stored together (see Store.add_inputs).
    results = await call.db(call.store.add_inputs, app.pk, call.user_id, new, add_job_id)
    # The worker decodes these next: spare it reading them back from disk.
    call.backend.ingest.offer(
        (n.blob_sha, n.blob)
        for n, r in zip(new, results, strict=True)
        if n.blob is not None
        and n.blob_sha
        and r.row is not None
        and r.id == n.id
        and r.row.status_code == INPUT_PENDING
    )
    if any(r.row is not None and r.row.status_code == INPUT_PENDING for r in results):
        call.backend.ingest.wake()
    links = call.links(app)
    out: list[dict[str, Any]] = []
    for result in results:
        if result.row is not None:
            out.append(input_json(result.row, links))
        else:
            out.append(
                {
                    "id": result.id,
                    "status": status_json(result.error_code, result.error_description),
                }
            )
    failed = any(r.row is None for r in results)
    code = MIXED_STATUS if failed else SUCCESS
    detail = "; ".join(r.error_description for r in results if r.row is None)
    return {"status": status_json(code, "", detail[:1000]), "inputs": out}


async def list_inputs(call: Call) -> dict[str, Any]:
    app = await call.app()
    limit, offset = paging(call.query)
    codes = call.query.get_codes("status.code")
    ids = call.query.get_list("ids")
    rows = await call.db(call.store.list_inputs, app.pk, limit, offset, status_codes=codes, ids=ids)
    links = call.links(app)
    return {"inputs": [input_json(r, links) for r in rows]}


async def get_input(call: Call) -> dict[str, Any]:
    app = await call.app()
    input_id = call.path("input_id")
    row = await call.db(call.store.get_input, app.pk, input_id)
    if row is None:
        raise not_found("input", input_id)
    return {"input": input_json(row, call.links(app))}


async def input_count(call: Call) -> dict[str, Any]:
    app = await call.app()
    counts = await call.db(call.store.count_inputs, app.pk)
    in_flight = min(call.backend.ingest.active_in_app(app.pk), counts.to_process)
    counts.to_process -= in_flight
    counts.processing += in_flight
    return {"counts": counts_json(counts)}


async def patch_inputs(call: Call) -> dict[str, Any]:
    """``merge`` (default) deep-merges metadata and upserts concepts; ``overwrite`` replaces
    what is given; ``remove`` drops the given metadata keys and concept ids."""
    app = await call.app()
    body = await call.body()
    items = body.get_objs("inputs")
    batch(items, body.field("inputs"))
    action = body.get_action(default="merge")
    patches: list[InputPatch] = []
    for item in items:
        ident = item.get_str("id")
        if not ident:
            raise invalid(item.field("id"), "required (the input to patch)")
        data = item.get_obj("data")
        parse.only_fields(data, {"metadata", "concepts"}, "PatchInputs data")
        patches.append(
            InputPatch(
                id=ident,
                metadata=data.get_struct("metadata"),
                concepts=parse.concepts(data) if data.raw("concepts") is not None else None,
            )
        )
    rows = await call.db(call.store.patch_inputs, app.pk, call.user_id, patches, action)
    links = call.links(app)
    return {"inputs": [input_json(r, links) for r in rows]}


async def delete_inputs(call: Call) -> dict[str, Any]:
    app = await call.app()
    body = await call.body()
    ids = body.get_strs("ids") or call.query.get_list("ids")
    batch(ids, body.field("ids"))
    await call.db(call.store.delete_inputs, app.pk, ids)
    return {}


async def delete_input(call: Call) -> dict[str, Any]:
    app = await call.app()
    await call.db(call.store.delete_inputs, app.pk, [call.path("input_id")])
    return {}


_MEDIA = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
}


def _sniff(head: bytes) -> str:
    video = sniff_video(head)
    if video is not None:
        return _VIDEO_MEDIA[video]
    if head.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"GIF8"):
        return "image/gif"
    if head.startswith(b"BM"):
        return "image/bmp"
    return "application/octet-stream"


async def _image_bytes(call: Call, input_id: str, size: str) -> Response:
    if size not in ("orig", "thumb"):
        raise invalid("size", f"expected orig or thumb, got {size!r}")
    app = await call.app()
    row = await call.db(call.store.get_input, app.pk, input_id)
    if row is None:
        raise not_found("input", input_id)
    sha = row.thumb_sha if size == "thumb" and row.thumb_sha else row.blob_sha
    if not sha:
        raise not_found(
            "image bytes of input",
            input_id,
            "A URL input has bytes only once it is downloaded (status 30000).",
        )
    try:
        data = await asyncio.to_thread(call.store.read_blob, sha)
    except FileNotFoundError:
        raise not_found("image bytes of input", input_id) from None
    return Response(
        data,
        media_type=_sniff(data[:16]) or _MEDIA.get(row.format, "application/octet-stream"),
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )


async def get_blob(call: Call) -> Response:
    return await _image_bytes(call, call.path("input_id"), "orig")


async def get_hosted(call: Call) -> Response:
    return await _image_bytes(call, call.path("input_id"), call.path("size"))


JOB_RUNNING = 64001
JOB_COMPLETED = 64002
JOB_CANCELLED = 64004


def _add_job_json(job: AddJobRow) -> dict[str, Any]:
    if job.cancelled:
        code, text = JOB_CANCELLED, "Job cancelled"
    elif job.pending or job.in_progress:
        code, text = JOB_RUNNING, "Job is running"
    else:
        code, text = JOB_COMPLETED, "Job completed"
    return {
        "id": job.id,
        "progress": {
            "pending_count": job.pending,
            "in_progress_count": job.in_progress,
            "success_count": job.success,
            "failed_count": job.failed,
        },
        "status": status_json(code, text),
        "created_at": timestamp(job.created_at),
        "modified_at": timestamp(job.modified_at),
    }


async def get_add_job(call: Call) -> dict[str, Any]:
    """GetInputsAddJob: the progress of the inputs a PostInputs with that job id added."""
    app = await call.app()
    job = await call.db(call.store.get_add_job, app.pk, call.path("job_id"))
    if job is None:
        raise not_found("inputs-add job", call.path("job_id"))
    return {"inputs_add_job": _add_job_json(job)}


async def list_add_jobs(call: Call) -> dict[str, Any]:
    app = await call.app()
    limit, offset = paging(call.query)
    jobs = await call.db(call.store.list_add_jobs, app.pk, limit, offset)
    return {"inputs_add_jobs": [_add_job_json(j) for j in jobs]}


async def cancel_add_job(call: Call) -> dict[str, Any]:
    """CancelInputsAddJob: the job's inputs not processed yet end 30002 (cancelled)."""
    app = await call.app()
    job = await call.db(call.store.cancel_add_job, app.pk, call.path("job_id"))
    if job is None:
        raise not_found("inputs-add job", call.path("job_id"))
    return {"inputs_add_job": _add_job_json(job)}


ROUTES = [
    RouteSpec("POST", "/apps/{app_id}/inputs", "PostInputs", post_inputs),
    RouteSpec("GET", "/apps/{app_id}/inputs", "ListInputs", list_inputs),
    RouteSpec("PATCH", "/apps/{app_id}/inputs", "PatchInputs", patch_inputs),
    RouteSpec("DELETE", "/apps/{app_id}/inputs", "DeleteInputs", delete_inputs),
    RouteSpec("GET", "/apps/{app_id}/inputs/status", "GetInputCount", input_count),
    RouteSpec("GET", "/apps/{app_id}/inputs/jobs/add", "ListInputsAddJobs", list_add_jobs),
    RouteSpec("GET", "/apps/{app_id}/inputs/jobs/add/{job_id}", "GetInputsAddJob", get_add_job),
    RouteSpec(
        "PATCH", "/apps/{app_id}/inputs/jobs/add/{job_id}", "CancelInputsAddJob", cancel_add_job
    ),
    RouteSpec("GET", "/apps/{app_id}/inputs/{input_id}", "GetInput", get_input),
    RouteSpec("DELETE", "/apps/{app_id}/inputs/{input_id}", "DeleteInput", delete_input),
    RouteSpec("GET", "/apps/{app_id}/inputs/{input_id}/blob", "GetInputBlob", get_blob),
    RouteSpec("GET", "/apps/{app_id}/hosted/{size}/{input_id}", "GetHostedImage", get_hosted),
]
