"""Domain objects of the Clarifai API, as the application sees them.

Frozen dataclasses only: no JSON field names here (those live in `api.wire`), no I/O.
Status codes are plain ints on the objects; the IntEnums below name the ones the
application branches on (`InputStatus.PENDING`, `AnnotationStatus.SUCCESS`...).

One module on purpose (issue #23): these types are the vocabulary every layer shares and
`api.wire` maps one for one; they are plain data with no logic to separate, they refer to
each other (a `Workflow`'s nodes, a `WorkflowResult`'s outputs and their frames, a `Page` of
any of them), and one module is the one place a reader looks a type up.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any, Final, Generic, Literal, TypeVar, overload

T = TypeVar("T")

# ---------------------------------------------------------------------------------------
# Status codes


class Code(IntEnum):
    """Response-level codes the adapter branches on."""

    SUCCESS = 10000
    MIXED_STATUS = 10010
    FAILURE = 10020
    TRY_AGAIN = 10030
    CONN_TOKEN_INVALID = 11001
    CONN_THROTTLED = 11005
    CONN_INSUFFICIENT_SCOPES = 11007
    CONN_KEY_INVALID = 11008
    CONN_DOES_NOT_EXIST = 11101
    CONN_INVALID_REQUEST = 11102
    MODEL_DOES_NOT_EXIST = 21200
    WORKFLOW_DOES_NOT_EXIST = 22102
    WORKFLOW_INVALID_GRAPH = 22107
    INTERNAL_SERVER_ISSUE = 98004


class InputStatus(IntEnum):
    SUCCESS = 30000  # INPUT_SUCCESS (older name INPUT_DOWNLOAD_SUCCESS): processed
    PENDING = 30001
    FAILED = 30002
    IN_PROGRESS = 30003
    DUPLICATE = 30100
    UNSUPPORTED_FORMAT = 30101
    DOES_NOT_EXIST = 30102
    INVALID_ARGUMENT = 30104
    OVER_LIMIT = 30105
    INVALID_URL = 30106


#: Input statuses that mean "the server is still working on it".
INPUT_PROCESSING_CODES = frozenset({InputStatus.PENDING, InputStatus.IN_PROGRESS})


class AnnotationStatus(IntEnum):
    SUCCESS = 24150
    PENDING = 24151
    FAILED = 24152
    AWAITING_REVIEW = 24157
    REVIEW_DENIED = 24158


class ModelVersionStatus(IntEnum):
    TRAINED = 21100
    TRAINING = 21101
    UNTRAINED = 21102
    QUEUED_FOR_TRAINING = 21103
    UPLOADING = 21104
    UPLOADING_FAILED = 21105
    TRAINING_FAILED = 21106
    BUILDING = 21107
    BUILDING_FAILED = 21108
    BUILD_UNEXPECTED_ERROR = 21109
    TRAINING_NO_DATA = 21110
    TRAINING_NO_POSITIVES = 21111
    TRAINING_ONE_VS_N_SINGLE_CLASS = 21112
    TRAINING_TIMED_OUT = 21113
    TRAINING_WAITING_ERROR = 21114
    TRAINING_UNKNOWN_ERROR = 21115
    TRAINING_MSG_REDELIVER = 21116
    TRAINING_INSUFFICIENT_DATA = 21117
    TRAINING_INVALID_PARAMS = 21118
    TRAINING_INVALID_DATA_TOLERANCE_EXCEEDED = 21119


#: Version statuses after which the version will not change by itself: trained, untrained,
#: and every failure the protos name (a poll that waited for anything else on 21117 ran until
#: its 900 s timeout).
MODEL_VERSION_SETTLED_CODES = frozenset(
    {
        ModelVersionStatus.TRAINED,
        ModelVersionStatus.UNTRAINED,
        ModelVersionStatus.UPLOADING_FAILED,
        ModelVersionStatus.TRAINING_FAILED,
        ModelVersionStatus.BUILDING_FAILED,
        ModelVersionStatus.BUILD_UNEXPECTED_ERROR,
        ModelVersionStatus.TRAINING_NO_DATA,
        ModelVersionStatus.TRAINING_NO_POSITIVES,
        *(ModelVersionStatus(code) for code in range(21112, 21120)),
    }
)


class ValueComparator(IntEnum):
    """`params.concept_threshold_type` of a concept-thresholder."""

    CONCEPT_THRESHOLD_NOT_SET = 0
    GREATER_THAN = 1
    GREATER_THAN_OR_EQUAL = 2
    LESS_THAN = 3
    LESS_THAN_OR_EQUAL = 4
    EQUAL = 5


# ---------------------------------------------------------------------------------------
# Ids

_ID_HEX = 32


def content_input_id(data: bytes) -> str:
    """A stable input id for image bytes: the first 32 hex digits of their SHA-256."""
    return hashlib.sha256(data).hexdigest()[:_ID_HEX]


def url_input_id(url: str) -> str:
    """A stable input id for a URL input (hash of the URL text as given, stripped)."""
    return hashlib.sha256(b"url:" + url.strip().encode("utf-8")).hexdigest()[:_ID_HEX]


def new_annotation_id() -> str:
    """A fresh client-chosen annotation id (32 hex digits)."""
    return uuid.uuid4().hex


def derived_id(*parts: str) -> str:
    """A stable id from any parts (for callers that want cross-run idempotent writes)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:_ID_HEX]


# ---------------------------------------------------------------------------------------
# Objects


@dataclass(frozen=True)
class Concept:
    id: str
    name: str = ""
    value: float = 1.0


@dataclass(frozen=True)
class App:
    id: str
    name: str = ""
    default_workflow_id: str = ""
    created_at: datetime | None = None
    description: str = ""
    #: The app of the default workflow when it is not this one (a base workflow of
    #: clarifai/main, such as Universal, which every app starts on).
    default_workflow_user_id: str = ""
    default_workflow_app_id: str = ""
    #: Milliseconds between the sampled frames of its videos; 0: the platform's default.
    sample_ms: int = 0

    @property
    def frame_ms(self) -> int:
        """Milliseconds between sampled video frames (the platform samples 1 a second unless
        the app says otherwise)."""
        return self.sample_ms or DEFAULT_SAMPLE_MS

    @property
    def own_default_workflow(self) -> str:
        """The default workflow's id when it is one of the app's own workflows, else ""."""
        if self.default_workflow_app_id and self.default_workflow_app_id != self.id:
            return ""
        return self.default_workflow_id

    @property
    def default_workflow_label(self) -> str:
        """``clarifai/main · Universal`` for a base workflow, else the workflow id."""
        if self.default_workflow_id and not self.own_default_workflow:
            owner = f"{self.default_workflow_user_id}/{self.default_workflow_app_id}"
            return f"{owner} · {self.default_workflow_id}"
        return self.default_workflow_id


@dataclass(frozen=True)
class VideoInfo:
    """A video input's properties, as the platform reports them in ``data.video.video_info``."""

    width: int = 0
    height: int = 0
    fps: float = 0.0
    video_format: str = ""
    bit_rate: int = 0
    frame_count: int = 0
    duration_seconds: float = 0.0


@dataclass(frozen=True, order=True)
class FrameInfo:
    """Which sampled frame of a video (``frame_info``): its index among the sampled frames
    and its time from the start in milliseconds."""

    index: int = 0
    time_ms: int = 0


#: The platform samples one video frame a second unless the app's ``sample_ms`` says otherwise
#: (it takes 100 to 60,000).
DEFAULT_SAMPLE_MS = 1000
SAMPLE_MS_RANGE = (100, 60_000)

#: Video files the uploader takes (the platform lists AVI, MP4, WMV, MOV and 3GPP; WebM and
#: Matroska decode the same way here).
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp", ".wmv"})


def is_video_name(name: str) -> bool:
    """Whether a file name or URL path names a video, by its extension."""
    path = name.split("?", 1)[0].split("#", 1)[0].lower()
    dot = path.rfind(".")
    return dot >= 0 and "/" not in path[dot:] and path[dot:] in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class Input:
    id: str
    status_code: int = 0
    status_description: str = ""
    url: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    concepts: tuple[Concept, ...] = ()
    created_at: datetime | None = None
    modified_at: datetime | None = None
    status_details: str = ""
    #: "image" or "video" (which of ``data.image`` / ``data.video`` the input has).
    kind: str = "image"
    #: A video's properties, once processed (None for images).
    video: VideoInfo | None = None
    #: A video's hosted thumbnail (its first frame), when the server gives one.
    thumbnail_url: str = ""

    @property
    def is_video(self) -> bool:
        return self.kind == "video"

    @property
    def processing(self) -> bool:
        return self.status_code in INPUT_PROCESSING_CODES

    @property
    def failed(self) -> bool:
        return self.status_code == InputStatus.FAILED


@dataclass(frozen=True)
class NewInput:
    """An input to upload: exactly one of `data` (image bytes) or `url`.

    `id` defaults to one derived from the content (`content_input_id` / `url_input_id`),
    so posting the same image twice is answered "already present" instead of a copy.
    """

    data: bytes | None = None
    url: str | None = None
    id: str | None = None
    concepts: tuple[Concept, ...] = ()
    metadata: Mapping[str, Any] | None = None
    allow_duplicate_url: bool = False
    #: Sent as ``data.video`` instead of ``data.image``.
    video: bool = False

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ValueError("NewInput needs exactly one of data= or url=")

    @property
    def input_id(self) -> str:
        if self.id:
            return self.id
        if self.data is not None:
            return content_input_id(self.data)
        assert self.url is not None
        return url_input_id(self.url)


@dataclass(frozen=True)
class InputRef:
    """An input to predict on or dry-run a workflow with: an existing id, bytes or a URL."""

    input_id: str | None = None
    data: bytes | None = None
    url: str | None = None
    #: Bytes or URL of a video (``data.video``) rather than an image.
    video: bool = False

    def __post_init__(self) -> None:
        given = sum(x is not None for x in (self.input_id, self.data, self.url))
        if given != 1:
            raise ValueError("InputRef needs exactly one of input_id=, data= or url=")

    @classmethod
    def existing(cls, input_id: str) -> InputRef:
        return cls(input_id=input_id)

    @classmethod
    def from_bytes(cls, data: bytes) -> InputRef:
        return cls(data=data)

    @classmethod
    def from_url(cls, url: str) -> InputRef:
        return cls(url=url)


@dataclass(frozen=True)
class InputUpdate:
    """A PatchInputs item: new concepts and/or metadata for an existing input."""

    id: str
    concepts: tuple[Concept, ...] | None = None
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class InputCounts:
    processed: int = 0
    to_process: int = 0
    errors: int = 0
    processing: int = 0

    @property
    def total(self) -> int:
        return self.processed + self.to_process + self.errors + self.processing

    @property
    def settled(self) -> bool:
        return self.to_process == 0 and self.processing == 0


@dataclass(frozen=True)
class Annotation:
    id: str
    input_id: str
    concepts: tuple[Concept, ...] = ()
    user_id: str = ""
    model_version_id: str = ""
    status_code: int = 0
    status_description: str = ""
    created_at: datetime | None = None
    modified_at: datetime | None = None
    annotation_info: Mapping[str, Any] = field(default_factory=dict)
    #: The video frame this annotation labels (``data.frames[0].frame_info``); None when it
    #: labels the whole input. Its concepts are that frame's.
    frame: FrameInfo | None = None


@dataclass(frozen=True)
class NewAnnotation:
    """An annotation to post. The id is chosen here, so a retried batch cannot duplicate it."""

    input_id: str
    concepts: tuple[Concept, ...]
    status_code: int = AnnotationStatus.SUCCESS
    id: str = field(default_factory=new_annotation_id)
    user_id: str | None = None
    annotation_info: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class AnnotationUpdate:
    """A PatchAnnotations item: only the fields given are sent."""

    id: str
    input_id: str
    concepts: tuple[Concept, ...] | None = None
    status_code: int | None = None
    annotation_info: Mapping[str, Any] | None = None
    #: The frame a frame-level annotation labels: new concepts are sent as that frame's.
    frame: FrameInfo | None = None


Outcome = Literal["created", "duplicate", "failed"]


@dataclass(frozen=True)
class BatchItemResult(Generic[T]):
    """One item of a batch write. `outcome` is decided from the item's own status."""

    id: str
    outcome: Outcome
    status_code: int
    status_name: str = ""
    description: str = ""
    details: str = ""
    item: T | None = None
    #: An earlier attempt of this call may have reached the server before its answer was
    #: lost (a reset or timeout after sending), so a "duplicate" may be this call's own write.
    after_lost_answer: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"

    @property
    def reason(self) -> str:
        """A one-line reason for a failure ("" when it did not fail)."""
        if self.outcome != "failed":
            return ""
        text = self.description or self.status_name or f"status {self.status_code}"
        if self.details and self.details != self.description:
            text = f"{text}: {self.details}"
        return f"{text} ({self.status_name or self.status_code})"


InputResult = BatchItemResult[Input]
AnnotationResult = BatchItemResult[Annotation]


@dataclass(frozen=True)
class ModelVersion:
    id: str
    status_code: int = 0
    status_description: str = ""
    status_details: str = ""
    total_input_count: int = 0
    active_concept_count: int = 0
    train_params: Mapping[str, Any] = field(default_factory=dict)
    concepts: tuple[Concept, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    completed_at: datetime | None = None
    #: The version's ``output_info.params`` (a thresholder's comparator, a writer's status).
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def settled(self) -> bool:
        return self.status_code in MODEL_VERSION_SETTLED_CODES

    @property
    def trained(self) -> bool:
        return self.status_code == ModelVersionStatus.TRAINED


@dataclass(frozen=True)
class Model:
    id: str
    name: str = ""
    model_type_id: str = ""
    concepts: tuple[Concept, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    version: ModelVersion | None = None
    description: str = ""
    created_at: datetime | None = None
    modified_at: datetime | None = None
    concepts_mutually_exclusive: bool = False
    #: The app the model lives in (``clarifai``/``main`` for a public model).
    user_id: str = ""
    app_id: str = ""


#: Clarifai's public app and the embedder every app's base workflow indexes with.
PUBLIC_USER_ID: Final = "clarifai"
PUBLIC_APP_ID: Final = "main"
PUBLIC_EMBEDDER_ID: Final = "general-image-embedding"


@dataclass(frozen=True)
class ModelTypeField:
    path: str
    field_type: str = ""
    description: str = ""
    default_value: Any = None
    required: bool = False
    placeholder: str = ""
    enum_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelType:
    id: str
    title: str = ""
    description: str = ""
    input_fields: tuple[str, ...] = ()
    output_fields: tuple[str, ...] = ()
    trainable: bool = False
    creatable: bool = False
    fields: tuple[ModelTypeField, ...] = ()


@dataclass(frozen=True)
class WorkflowNode:
    id: str
    model_id: str
    model_version_id: str = ""
    node_inputs: tuple[str, ...] = ()
    suppress_output: bool = False
    #: The app of the node's model when it is not the workflow's own (a public model of
    #: clarifai/main): sent as ``model.user_id`` / ``model.app_id``.
    model_user_id: str = ""
    model_app_id: str = ""

    @property
    def is_public(self) -> bool:
        return (self.model_user_id, self.model_app_id) == (PUBLIC_USER_ID, PUBLIC_APP_ID)

    @property
    def model_label(self) -> str:
        """``clarifai/main · general-image-embedding`` for another app's model, else its id."""
        if self.model_user_id or self.model_app_id:
            return f"{self.model_user_id}/{self.model_app_id} · {self.model_id}"
        return self.model_id


@dataclass(frozen=True)
class Workflow:
    id: str
    nodes: tuple[WorkflowNode, ...] = ()
    description: str = ""
    created_at: datetime | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True)
class FrameOutput:
    """A model's or node's output on one sampled frame of a video (``data.frames[i]``)."""

    frame: FrameInfo
    concepts: tuple[Concept, ...] = ()
    embedding_dims: tuple[int, ...] = ()


@dataclass(frozen=True)
class Prediction:
    """One input's output from PostModelOutputs."""

    input_id: str
    status_code: int
    status_description: str = ""
    concepts: tuple[Concept, ...] = ()
    embedding_dims: tuple[int, ...] = ()
    embeddings: tuple[tuple[float, ...], ...] = ()
    #: On a video: one output per sampled frame, in time order (the fields above stay empty).
    frames: tuple[FrameOutput, ...] = ()


@dataclass(frozen=True)
class NodeOutput:
    """One workflow node's output for one input (node id from the workflow, by position)."""

    node_id: str
    model_id: str
    model_version_id: str
    status_code: int
    status_description: str = ""
    concepts: tuple[Concept, ...] = ()
    embedding_dims: tuple[int, ...] = ()
    #: On a video: one output per sampled frame, in time order.
    frames: tuple[FrameOutput, ...] = ()


@dataclass(frozen=True)
class WorkflowResult:
    input_id: str
    status_code: int
    status_description: str = ""
    outputs: tuple[NodeOutput, ...] = ()

    def output(self, node_id: str) -> NodeOutput | None:
        return next((o for o in self.outputs if o.node_id == node_id), None)


@dataclass(frozen=True)
class AnnotationFilter:
    """One annotation filter of a search (PostInputsSearches / PostAnnotationsSearches).

    Its fields must hold on one annotation; ``concepts`` are ORed (value 1: labelled positive,
    0: negative). Without ``status`` the platform searches trusted (SUCCESS) annotations."""

    status: int | None = None
    concepts: tuple[Concept, ...] = ()
    user_id: str = ""
    model_version_id: str = ""
    input_id: str = ""
    negate: bool = False


@dataclass(frozen=True)
class InputFilter:
    """One input filter of a search: the input's own status or id."""

    status: int | None = None
    input_id: str = ""
    negate: bool = False


SearchFilter = AnnotationFilter | InputFilter


@dataclass(frozen=True)
class SearchHit:
    """One hit: an input (PostInputsSearches) or an annotation with its input."""

    input: Input
    annotation: Annotation | None = None
    score: float = 1.0


class Page(Sequence[T]):
    """One page of a listing: a read-only sequence plus where it sits."""

    __slots__ = ("_items", "page", "per_page")

    def __init__(self, items: Sequence[T], *, page: int, per_page: int) -> None:
        self._items: tuple[T, ...] = tuple(items)
        self.page = page
        self.per_page = per_page

    @property
    def items(self) -> tuple[T, ...]:
        return self._items

    @property
    def has_more(self) -> bool:
        """True when a next page may exist (this one is full)."""
        return len(self._items) >= self.per_page > 0

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Page):
            return (self._items, self.page, self.per_page) == (
                other._items,
                other.page,
                other.per_page,
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Page(page={self.page}, per_page={self.per_page}, items={list(self._items)!r})"
