"""Plain records the store reads and writes. No SQL, no JSON here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ConceptValue:
    id: str
    name: str = ""
    value: float = 1.0


@dataclass(slots=True)
class AppRow:
    pk: int
    id: str
    user_id: str
    name: str
    description: str
    default_workflow_id: str
    created_at: float
    modified_at: float
    #: Milliseconds between sampled video frames; 0: the platform's default (1,000).
    sample_ms: int = 0


@dataclass(slots=True)
class AppPatch:
    id: str
    name: str | None = None
    description: str | None = None
    #: None: untouched; "" (or action remove): cleared.
    default_workflow_id: str | None = None
    sample_ms: int | None = None


@dataclass(slots=True)
class InputRow:
    pk: int
    app_pk: int
    id: str
    source_url: str
    blob_sha: str | None
    thumb_sha: str | None
    width: int
    height: int
    format: str
    color_mode: str
    metadata: dict[str, Any]
    status_code: int
    status_description: str
    workflow_status_code: int | None
    workflow_status_description: str
    created_at: float
    modified_at: float
    #: "image" or "video".
    kind: str = "image"
    #: A processed video's properties (the proto's VideoInfo fields).
    video_info: dict[str, Any] | None = None
    concepts: list[ConceptValue] = field(default_factory=list)


@dataclass(slots=True)
class NewInput:
    id: str
    source_url: str = ""
    kind: str = "image"
    blob_sha: str | None = None
    #: The bytes behind ``blob_sha``, kept so the store can rewrite a blob collected meanwhile.
    blob: bytes | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    concepts: list[ConceptValue] = field(default_factory=list)
    status_code: int = 30001
    status_description: str = ""


@dataclass(slots=True)
class AddedInput:
    """One item of an add_inputs batch: the stored row, or the reason it was refused."""

    id: str
    row: InputRow | None
    error_code: int = 0
    error_description: str = ""


@dataclass(slots=True)
class InputPatch:
    id: str
    metadata: dict[str, Any] | None = None
    concepts: list[ConceptValue] | None = None


@dataclass(slots=True)
class ConceptRow:
    pk: int
    id: str
    name: str
    created_at: float
    modified_at: float


@dataclass(slots=True)
class AnnotationRow:
    pk: int
    app_pk: int
    input_pk: int
    input_id: str
    id: str
    user_id: str
    model_version_id: str
    workflow_version_id: str
    metadata: dict[str, Any] | None
    annotation_info: dict[str, Any] | None
    concepts: list[ConceptValue]
    status_code: int
    status_description: str
    input_level: bool
    created_at: float
    modified_at: float
    #: The sampled video frame it labels: (index, time in ms); None for the whole input.
    frame: tuple[int, int] | None = None


@dataclass(slots=True)
class NewAnnotation:
    id: str
    input_id: str
    user_id: str
    concepts: list[ConceptValue] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    annotation_info: dict[str, Any] | None = None
    model_version_id: str = ""
    workflow_version_id: str = ""
    status_code: int = 24150
    status_description: str = ""
    frame: tuple[int, int] | None = None


@dataclass(slots=True)
class AnnotationPatch:
    id: str
    input_id: str = ""
    concepts: list[ConceptValue] | None = None
    metadata: dict[str, Any] | None = None
    annotation_info: dict[str, Any] | None = None
    status_code: int | None = None
    status_description: str = ""


@dataclass(slots=True)
class AnnotationFilter:
    """ListAnnotations filters. See ``Store.list_annotations`` for the default worker filter."""

    caller_user_id: str
    ids: list[str] = field(default_factory=list)
    input_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    model_version_ids: list[str] = field(default_factory=list)
    status_codes: list[int] = field(default_factory=list)
    list_all: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    """One pending input in the durable ingest queue."""

    job_id: int
    input_pk: int
    app_pk: int
    app_id: str
    input_id: str
    blob_sha: str | None
    source_url: str
    kind: str = "image"
    #: The app's sample_ms (0: the default), for a video.
    sample_ms: int = 0


@dataclass(frozen=True, slots=True)
class EmbeddingRow:
    """One stored embedding: float32 bytes of length ``dim``."""

    embedder_id: str
    dim: int
    vector: bytes


@dataclass(slots=True)
class WorkflowWrite:
    """One annotation a default-workflow writer writes on the input being ingested."""

    concepts: list[ConceptValue]
    status_code: int
    user_id: str
    model_version_id: str
    annotation_info: dict[str, Any] | None = None
    #: The sampled video frame the annotation labels: (index, time in ms).
    frame: tuple[int, int] | None = None


@dataclass(slots=True)
class JobResult:
    job_id: int
    input_pk: int
    ok: bool
    description: str = ""
    blob_sha: str | None = None
    #: Downloaded bytes (URL inputs), kept so the store can rewrite a blob collected meanwhile.
    blob: bytes | None = None
    thumb_sha: str | None = None
    thumb: bytes | None = None
    width: int = 0
    height: int = 0
    format: str = ""
    color_mode: str = ""
    #: Written in the same transaction as the 30000 status.
    embeddings: list[EmbeddingRow] = field(default_factory=list)
    annotations: list[WorkflowWrite] = field(default_factory=list)
    #: The default workflow's outcome (code, description); None when no default ran.
    workflow_status: tuple[int, str] | None = None
    #: A processed video's properties.
    video_info: dict[str, Any] | None = None


@dataclass(slots=True)
class InputCounts:
    processed: int = 0
    to_process: int = 0
    errors: int = 0
    processing: int = 0


@dataclass(slots=True)
class VersionRow:
    pk: int
    model_pk: int
    id: str
    description: str
    status_code: int
    status_description: str
    train_params: dict[str, Any] | None
    output_info: dict[str, Any]
    training_info: dict[str, Any] | None
    total_input_count: int
    active_concept_count: int
    created_at: float
    modified_at: float
    completed_at: float | None


@dataclass(slots=True)
class ModelRow:
    pk: int
    app_pk: int
    id: str
    name: str
    description: str
    model_type_id: str
    output_info: dict[str, Any]
    created_at: float
    modified_at: float
    #: The newest version (any status), when loaded.
    latest: VersionRow | None = None


@dataclass(slots=True)
class NewModel:
    id: str
    model_type_id: str
    name: str = ""
    description: str = ""
    output_info: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ModelPatch:
    id: str
    name: str | None = None
    description: str | None = None
    #: The output_info as sent (only the parts present change, following the action).
    output_info: dict[str, Any] | None = None


@dataclass(slots=True)
class WorkflowRow:
    pk: int
    app_pk: int
    id: str
    description: str
    #: ``[{id, model_id, model_version_id, node_inputs: [..], suppress_output}]``
    nodes: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    created_at: float
    modified_at: float


@dataclass(slots=True)
class TrainingJob:
    """A version waiting to be trained (status 21103 or 21101)."""

    version_pk: int
    version_id: str
    model_pk: int
    model_id: str
    app_pk: int
    concept_ids: list[str]
    mutually_exclusive: bool | None
    #: Training runs started on this version before (a restart interrupted them).
    attempts: int = 0


@dataclass
class AddJobRow:
    """An inputs-add job and the progress of its inputs (GetInputsAddJob)."""

    pk: int
    id: str
    cancelled: bool
    created_at: float
    modified_at: float
    pending: int = 0
    in_progress: int = 0
    success: int = 0
    failed: int = 0
