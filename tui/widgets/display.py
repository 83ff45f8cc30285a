"""How domain values read on screen, in one place (issue #23): status names, times, a
model version's training state, the Explorer's filter line. Pure functions; the screens and
the CLI share them instead of importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from api.errors import status_name
from api.explore import Filters
from api.models import (
    Annotation,
    AnnotationStatus,
    InputStatus,
    ModelVersion,
    ModelVersionStatus,
)

INPUT_STATUS_NAMES: Final[dict[int, str]] = {
    InputStatus.SUCCESS: "ok",
    InputStatus.PENDING: "pending",
    InputStatus.IN_PROGRESS: "working",
    InputStatus.FAILED: "failed",
    InputStatus.DUPLICATE: "dup",
    InputStatus.UNSUPPORTED_FORMAT: "format",
}
ANNOTATION_STATUS_NAMES: Final[dict[int, str]] = {
    AnnotationStatus.SUCCESS: "SUCCESS",
    AnnotationStatus.PENDING: "PENDING",
    AnnotationStatus.FAILED: "FAILED",
    AnnotationStatus.AWAITING_REVIEW: "AWAITING_REVIEW",
    AnnotationStatus.REVIEW_DENIED: "REVIEW_DENIED",
}


def input_status_name(code: int) -> str:
    return INPUT_STATUS_NAMES.get(code, str(code))


def annotation_status_name(code: int) -> str:
    return ANNOTATION_STATUS_NAMES.get(code, str(code))


def format_time(when: datetime | None) -> str:
    """Created time as shown in the table (local time, minutes)."""
    if when is None:
        return ""
    return when.astimezone().strftime("%m-%d %H:%M")


def format_full_time(when: datetime | None) -> str:
    if when is None:
        return "-"
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def describe_filters(filters: Filters) -> str:
    parts = []
    if filters.text:
        parts.append(f"id~{filters.text}")
    if filters.input_status is not None:
        parts.append(f"input={input_status_name(filters.input_status)}")
    if filters.annotation_status is not None:
        parts.append(f"ann={annotation_status_name(filters.annotation_status)}")
    elif filters.concept or filters.worker:
        # as the platform's search: without a status, trusted (SUCCESS) annotations only
        parts.append("ann=SUCCESS (a: other statuses)")
    if filters.concept:
        parts.append(f"concept={filters.concept}")
    if filters.worker:
        parts.append(f"by={filters.worker}")
    return " ".join(parts)


STATUS_WORDS: dict[int, str] = {
    ModelVersionStatus.TRAINED: "trained",
    ModelVersionStatus.TRAINING: "training",
    ModelVersionStatus.QUEUED_FOR_TRAINING: "queued",
    ModelVersionStatus.UNTRAINED: "untrained",
    ModelVersionStatus.TRAINING_FAILED: "failed",
    ModelVersionStatus.TRAINING_NO_DATA: "failed: no data",
    ModelVersionStatus.TRAINING_NO_POSITIVES: "failed: no positives",
}


def version_status(version: ModelVersion | None) -> str:
    """`trained`, `training`, `queued`, `failed: <reason>`... for a table cell."""
    if version is None:
        return "-"
    word = STATUS_WORDS.get(version.status_code) or status_name(version.status_code).lower()
    if version.status_code == ModelVersionStatus.TRAINING_FAILED:
        reason = version.status_details or version.status_description
        return f"failed: {reason}" if reason else word
    return word


def author_text(annotation: Annotation, model_names: Mapping[str, str] | None = None) -> str:
    """Who wrote an annotation: `model Bird Writer (1a2b3c4d)` for a model (its name when
    known, with the version's short id), `user ID` for a person."""
    version = annotation.model_version_id
    if version:
        name = (model_names or {}).get(version)
        return f"model {name} ({version[:8]})" if name else f"model version {version[:12]}"
    return f"user {annotation.user_id or '-'}"


def frame_time(time_ms: int) -> str:
    """A video frame's time from the start: `0:01.0`, `12:05.5`, `1:00:00.0`."""
    tenths = max(0, round(time_ms / 100))
    seconds, tenth = divmod(tenths, 10)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}.{tenth}"
    return f"{minutes}:{secs:02d}.{tenth}"


def short_duration(seconds: float) -> str:
    """A video's length in few characters: `4.0 s` under a minute, else `1:30`, `1:00:00`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def video_summary(duration_seconds: float, frames: int, width: int | None = None) -> str:
    """`4.0 s · 4 frames`, shortened to fit `width` characters when it can be."""
    forms = [
        f"{short_duration(duration_seconds)} · {frames} frame{'s' if frames != 1 else ''}",
        f"{short_duration(duration_seconds)} · {frames} fr",
        f"{short_duration(duration_seconds)}·{frames}fr",
    ]
    if width is None:
        return forms[0]
    return next((f for f in forms if len(f) <= width), forms[-1])
