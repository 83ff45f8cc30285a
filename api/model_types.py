"""Model types the auto-annotation uses, what flows between them, and their settings read
from a model (comparator, writer status); checks of ids and thresholds as a person types
them. Pure: shared by the wizard's plan, the workflow rules and the screens."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from typing import Any, Final, Literal

from api.models import (
    AnnotationStatus,
    ValueComparator,
)

# -- model types and what flows between them --------------------------------------------------

VISUAL_EMBEDDER: Final = "visual-embedder"
EMBEDDING_CLASSIFIER: Final = "embedding-classifier"
CONCEPT_THRESHOLDER: Final = "concept-thresholder"
ANNOTATION_WRITER: Final = "annotation-writer"
MODEL_TYPES: Final = (VISUAL_EMBEDDER, EMBEDDING_CLASSIFIER, CONCEPT_THRESHOLDER, ANNOTATION_WRITER)
TYPE_ALIASES: Final = {"concept-threshold": CONCEPT_THRESHOLDER}
TYPE_TITLES: Final = {
    VISUAL_EMBEDDER: "Visual Embedder",
    EMBEDDING_CLASSIFIER: "Context-Based Classifier",
    CONCEPT_THRESHOLDER: "Concept Thresholder",
    ANNOTATION_WRITER: "Annotation Writer",
}
#: (what a type takes, what it gives): the engine's rules.
KINDS: Final[dict[str, tuple[str, str]]] = {
    VISUAL_EMBEDDER: ("image", "embeddings"),
    EMBEDDING_CLASSIFIER: ("embeddings", "concepts"),
    CONCEPT_THRESHOLDER: ("concepts", "concepts"),
    ANNOTATION_WRITER: ("concepts", "annotation"),
}

DEFAULT_HIGH: Final = 0.9
DEFAULT_LOW: Final = 0.5
DEFAULT_WORKFLOW_ID: Final = "auto-annotate"

COMPARATOR_SYMBOLS: Final = {
    ValueComparator.CONCEPT_THRESHOLD_NOT_SET: ">=",
    ValueComparator.GREATER_THAN: ">",
    ValueComparator.GREATER_THAN_OR_EQUAL: ">=",
    ValueComparator.LESS_THAN: "<",
    ValueComparator.LESS_THAN_OR_EQUAL: "<=",
    ValueComparator.EQUAL: "==",
}
WRITER_STATUSES: Final = {
    AnnotationStatus.SUCCESS: "SUCCESS",
    AnnotationStatus.PENDING: "PENDING",
}

Preset = Literal["review-band", "tutorial"]
REVIEW_BAND: Final[Preset] = "review-band"
TUTORIAL: Final[Preset] = "tutorial"
PRESETS: Final[dict[Preset, str]] = {
    REVIEW_BAND: "review band (recommended): > low and <= high -> PENDING",
    TUTORIAL: "tutorial: < low -> PENDING (reviews the least likely)",
}

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")


def canonical_type(type_id: str) -> str:
    return TYPE_ALIASES.get(type_id, type_id)


def id_problem(value: str, taken: Collection[str] = (), *, what: str = "id") -> str | None:
    """Why `value` is not a usable new id (None when it is)."""
    if not value:
        return f"the {what} is required"
    if not _ID.match(value):
        return f"the {what} takes 1-48 letters, digits, '-' or '_', starting with a letter or digit"
    if value in taken:
        return f"{value!r} is already taken"
    return None


def threshold_problem(text: str) -> str | None:
    """Why `text` is not a threshold in [0, 1] (None when it is)."""
    try:
        value = float(text)
    except ValueError:
        return "a threshold is a number between 0 and 1"
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return "a threshold is between 0 and 1 (0 <= t <= 1)"
    return None


def comparator_of(params: Mapping[str, Any]) -> ValueComparator:
    """A thresholder's `concept_threshold_type` (number, float or name) as the enum."""
    raw = params.get("concept_threshold_type")
    if raw is None:
        return ValueComparator.CONCEPT_THRESHOLD_NOT_SET
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            return ValueComparator(int(raw))
        except ValueError:
            return ValueComparator.CONCEPT_THRESHOLD_NOT_SET
    text = str(raw).strip().upper()
    if text.isdigit():
        return comparator_of({"concept_threshold_type": int(text)})
    return ValueComparator.__members__.get(text, ValueComparator.CONCEPT_THRESHOLD_NOT_SET)


def writer_status_of(params: Mapping[str, Any]) -> int:
    """A writer's `annotation_status` (number, float or name) as a code (0 if unreadable)."""
    raw = params.get("annotation_status")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return int(raw)
    text = str(raw or "").strip().upper()
    if text.isdigit():
        return int(text)
    for code, name in WRITER_STATUSES.items():
        if text in (name, f"ANNOTATION_{name}"):
            return int(code)
    return 0
