"""The ``annotation-writer`` model: plan one annotation from the incoming concepts.

Public API
----------
- ``ANNOTATION_SUCCESS`` (24150), ``ANNOTATION_PENDING`` (24151): the statuses a writer
  may write.
- ``parse_annotation_status(value) -> int``: 24150/24151 as a number, a float (24150.0, as
  protobuf Structs deliver it), a digit string, or a name (``ANNOTATION_SUCCESS``,
  ``SUCCESS``, any case). Anything else raises ``ConfigError`` naming
  ``output_info.params.annotation_status`` and the allowed values.
- ``WriterConfig(status, user_id, annotation_info)`` and
  ``parse_writer(output_info, default_user_id=None) -> WriterConfig``. A missing
  ``annotation_user_id`` falls back to ``default_user_id`` (the app owner); with neither,
  ``ConfigError``. A missing ``annotation_status`` is an error: the writer's whole point
  is which status it writes. ``annotation_info`` must be a JSON object if present.
- ``PlannedAnnotation``: what would be written.
- ``plan_annotation(input_id, concepts, config, model_version_id) -> PlannedAnnotation |
  None``: ``None`` when there are no concepts. Nothing is written here: the caller
  (ingest) writes plans; a dry run (PostWorkflowResults) only shows them.

A plan's concepts keep the values that reached the writer (the predicted values), so the
review queue can show confidence; training counts any value above 0 as positive.
``model_version_id`` is the version of the classifier whose predictions reached the
writer (the engine finds it upstream), as Clarifai records on auto-annotations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from api.local.nodes.common import ConfigError, ScoredConcept, as_int_code

ANNOTATION_SUCCESS: Final = 24150
ANNOTATION_PENDING: Final = 24151
STATUS_FIELD: Final = "output_info.params.annotation_status"
USER_FIELD: Final = "output_info.params.annotation_user_id"
INFO_FIELD: Final = "output_info.params.annotation_info"

_ALLOWED: Final[dict[int, str]] = {
    ANNOTATION_SUCCESS: "ANNOTATION_SUCCESS",
    ANNOTATION_PENDING: "ANNOTATION_PENDING",
}
# Other annotation statuses, to name them when refusing.
_OTHER_NAMES: Final[dict[int, str]] = {
    24152: "ANNOTATION_FAILED",
    24154: "ANNOTATION_UNKNOWN_STATUS",
    24157: "ANNOTATION_AWAITING_REVIEW",
    24158: "ANNOTATION_REVIEW_DENIED",
    24159: "ANNOTATION_AWAITING_CONSENSUS_REVIEW",
}
_ALLOWED_TEXT: Final = "24150 (ANNOTATION_SUCCESS) or 24151 (ANNOTATION_PENDING)"


def parse_annotation_status(value: object) -> int:
    """A wire value -> 24150 or 24151; ConfigError for anything else."""
    if value is None:
        raise ConfigError(STATUS_FIELD, f"missing: set it to {_ALLOWED_TEXT}")
    code = as_int_code(value, STATUS_FIELD)
    if code is None:
        name = str(value).strip().upper()
        for number, allowed in _ALLOWED.items():
            if name in (allowed, allowed.removeprefix("ANNOTATION_")):
                return number
        raise ConfigError(STATUS_FIELD, f"{value!r} is not allowed; use {_ALLOWED_TEXT}")
    if code in _ALLOWED:
        return code
    known = _OTHER_NAMES.get(code)
    shown = f"{code} ({known})" if known else str(code)
    raise ConfigError(
        STATUS_FIELD, f"{shown} is not a status a writer can write; use {_ALLOWED_TEXT}"
    )


@dataclass(frozen=True)
class WriterConfig:
    """A writer's parameters."""

    status: int
    user_id: str
    annotation_info: Mapping[str, Any] | None = None


def parse_writer(
    output_info: Mapping[str, Any] | None, default_user_id: str | None = None
) -> WriterConfig:
    """Read a writer's parameters from a model's ``output_info`` dict."""
    info = output_info or {}
    params = info.get("params") or {}
    if not isinstance(params, Mapping):
        raise ConfigError("output_info.params", "expected an object")
    status = parse_annotation_status(params.get("annotation_status"))
    user_id = params.get("annotation_user_id") or default_user_id
    if user_id is None:
        raise ConfigError(USER_FIELD, "missing, and no default user to write as")
    if not isinstance(user_id, str) or not user_id.strip():
        raise ConfigError(USER_FIELD, f"expected a user id, got {user_id!r}")
    extra = params.get("annotation_info")
    if extra is not None and not isinstance(extra, Mapping):
        raise ConfigError(INFO_FIELD, f"expected a JSON object, got {type(extra).__name__}")
    return WriterConfig(status=status, user_id=user_id.strip(), annotation_info=extra)


@dataclass(frozen=True)
class PlannedAnnotation:
    """One annotation a writer would write on an input."""

    input_id: str
    concepts: tuple[ScoredConcept, ...]
    status: int
    user_id: str
    model_version_id: str
    annotation_info: Mapping[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """The wire shape of an ``Annotation`` (without id and timestamps)."""
        out: dict[str, Any] = {
            "input_id": self.input_id,
            "data": {"concepts": [c.to_dict() for c in self.concepts]},
            "user_id": self.user_id,
            "model_version_id": self.model_version_id,
            "status": {"code": self.status},
        }
        if self.annotation_info is not None:
            out["annotation_info"] = dict(self.annotation_info)
        return out


def plan_annotation(
    input_id: str,
    concepts: Sequence[ScoredConcept],
    config: WriterConfig,
    model_version_id: str,
) -> PlannedAnnotation | None:
    """The annotation to write for ``concepts``, or None when there are none."""
    if not concepts:
        return None
    return PlannedAnnotation(
        input_id=input_id,
        concepts=tuple(concepts),
        status=config.status,
        user_id=config.user_id,
        model_version_id=model_version_id,
        annotation_info=config.annotation_info,
    )
