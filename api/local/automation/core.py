"""The automation's core: its state, the helpers every part shares, and the engine's
:class:`StoreResolver` over the store.

Here too: what the parts all need to ask, whether an app's inputs are indexed and an app's
trained classifiers (cached per version), and :meth:`AutomationCore.changed`, which drops what
was prepared when something a workflow run depends on changes.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from api.local.engine import (
    MODEL_DOES_NOT_EXIST,
    WORKFLOW_REQUIRE_TRAINED_MODEL,
    NodeError,
    NodeOutput,
    NodeSpec,
    ResolvedClassifier,
    Resolver,
    WorkflowError,
    run,
)
from api.local.imaging import ImageRejected
from api.local.ingest import IngestWorker
from api.local.modelstore import MODEL_TRAINED, ModelStore, node_key
from api.local.nodes.common import ConfigError
from api.local.nodes.types import EMBEDDING_CLASSIFIER, normalise_type_id
from api.local.rows import EmbeddingRow, ModelRow, WorkflowRow
from api.local.status import FAILURE, ApiFailure
from api.local.store import Store
from api.local.video_analysis import SampledVector

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

    from api.local.nodes.classifier import TrainedClassifier
    from api.local.nodes.embedder import Embedder
    from api.local.nodes.thresholder import ThresholderConfig
    from api.local.nodes.writer import WriterConfig


_CLASSIFIER_CACHE: Final = 32


def default_embedder() -> Embedder:
    from api.local.nodes.embedder import DEFAULT_EMBEDDER, get_embedder

    return get_embedder(DEFAULT_EMBEDDER)


def embedder_for(model: ModelRow) -> Embedder:
    """The embedder a visual-embedder model uses (``output_info.params.embedder_id``)."""
    from api.local.nodes.embedder import DEFAULT_EMBEDDER, get_embedder

    params = model.output_info.get("params") or {}
    name = params.get("embedder_id") or DEFAULT_EMBEDDER
    try:
        return get_embedder(str(name))
    except ValueError as exc:
        raise ConfigError("output_info.params.embedder_id", str(exc)) from None


def vector_of(row: EmbeddingRow) -> npt.NDArray[np.float32]:
    import numpy as np

    return np.frombuffer(row.vector, dtype=np.float32).copy()


def embedding_row(embedder: Embedder, vector: npt.NDArray[np.float32]) -> EmbeddingRow:
    import numpy as np

    return EmbeddingRow(embedder.id, embedder.dim, np.asarray(vector, np.float32).tobytes())


def run_on_frame(
    specs: Sequence[NodeSpec], resolver: Resolver, input_id: str, sampled: SampledVector
) -> list[NodeOutput]:
    """A graph on one sampled video frame, from its default-embedder vector. The frame's
    pixels are not kept, so a node that needs them (another embedder) fails and says why."""
    import numpy as np

    embedder = default_embedder()
    if sampled.vector is None:
        raise ImageRejected(f"frame {sampled.index} of the video was not embedded")

    def no_pixels() -> Image.Image:
        raise ImageRejected(
            f"video frames are embedded with {embedder.id} only; this node needs the pixels "
            "of the frame (an embedder other than that one cannot run on a video here)"
        )

    vector = np.frombuffer(sampled.vector, dtype=np.float32)
    return run(specs, no_pixels, resolver, input_id=input_id, embeddings={embedder.id: vector})


def node_specs(nodes: Sequence[dict[str, Any]], models: Mapping[str, ModelRow]) -> list[NodeSpec]:
    """Stored workflow nodes -> engine specs (the type comes from the model)."""
    specs: list[NodeSpec] = []
    for node in nodes:
        model = models.get(node_key(node))
        if model is None:
            raise WorkflowError(
                MODEL_DOES_NOT_EXIST,
                f"node {node.get('id')!r} uses model {node.get('model_id')!r}, which does not "
                "exist",
            )
        specs.append(
            NodeSpec(
                id=str(node["id"]),
                model_id=model.id,
                model_version_id=str(node.get("model_version_id", "")),
                model_type_id=model.model_type_id,
                node_inputs=[str(n) for n in node.get("node_inputs", [])],
                suppress_output=bool(node.get("suppress_output", False)),
                model_key=node_key(node),
            )
        )
    return specs


@dataclass
class Source:
    """One input of a predict or dry-run request, once loaded."""

    input_id: str
    echo: dict[str, Any]
    #: The decoded image, or a function that decodes it (load_sources keeps the bytes, not
    #: the pixels, and the default embedder's vector in ``embeddings``).
    image: Image.Image | Callable[[], Image.Image] | None = None
    embeddings: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    error: str = ""
    error_code: int = FAILURE
    #: A video: its sampled frames with the default embedder's vectors (None for an image).
    frames: list[SampledVector] | None = None


@dataclass
class _Prepared:
    workflow: WorkflowRow
    specs: list[NodeSpec]
    resolver: StoreResolver
    error: WorkflowError | None = None


class StoreResolver:
    """The engine's Resolver over the store, for one app (configs cached per node)."""

    def __init__(self, auto: AutomationCore, app_pk: int, models: Mapping[str, ModelRow]) -> None:
        self.auto = auto
        self.app_pk = app_pk
        self.models = models
        self._classifiers: dict[str, ResolvedClassifier] = {}
        self._thresholders: dict[str, ThresholderConfig] = {}
        self._writers: dict[str, WriterConfig] = {}

    def _model(self, node: NodeSpec) -> ModelRow:
        model = self.models.get(node.key)
        if model is None:
            raise NodeError(MODEL_DOES_NOT_EXIST, f"model {node.model_name!r} does not exist")
        return model

    def embedder(self, node: NodeSpec) -> Embedder:
        return embedder_for(self._model(node))

    def classifier(self, node: NodeSpec) -> ResolvedClassifier:
        key = f"{node.model_id}\x00{node.model_version_id}"
        found = self._classifiers.get(key)
        if found is None:
            found = self.auto.resolve_classifier(
                self.app_pk, self._model(node), node.model_version_id, NodeError
            )
            self._classifiers[key] = found
        return found

    def _config(self, node: NodeSpec) -> dict[str, Any]:
        """The configuration a thresholder or writer node runs with: its pinned version's
        (the latest version's when the node pins none)."""
        model = self._model(node)
        version = self.auto.models.operator_version(model, node.model_version_id)
        if version is None:
            which = f"version {node.model_version_id!r}" if node.model_version_id else "a version"
            raise NodeError(
                MODEL_DOES_NOT_EXIST,
                f"model {model.id!r} has no {which}: create one with PostModelVersions "
                "(its configuration in output_info) and pin it in the node",
            )
        return {**model.output_info, **version.output_info}

    def thresholder(self, node: NodeSpec) -> ThresholderConfig:
        from api.local.nodes.thresholder import parse_thresholder

        key = f"{node.key}\x00{node.model_version_id}"
        found = self._thresholders.get(key)
        if found is None:
            found = parse_thresholder(self._config(node))
            self._thresholders[key] = found
        return found

    def writer(self, node: NodeSpec) -> WriterConfig:
        from api.local.nodes.writer import parse_writer

        key = f"{node.key}\x00{node.model_version_id}"
        found = self._writers.get(key)
        if found is None:
            found = parse_writer(self._config(node), self.auto.user_id)
            self._writers[key] = found
        return found


class AutomationCore:
    """The state of one backend's automation, and what its parts share (see the package)."""

    def __init__(self, store: Store, ingest: IngestWorker, user_id: str) -> None:
        self.store = store
        self.models = ModelStore(store)
        self.ingest = ingest
        self.user_id = user_id
        self._cache: OrderedDict[str, TrainedClassifier] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._training = False
        self._current: asyncio.Future[None] | None = None
        #: Bumped by every change a workflow run depends on (models, versions, workflows, an
        #: app's default, concept names): the prepared default workflows below are then
        #: rebuilt. Sound because one process owns the data dir.
        self._generation = 0
        self._prepared: dict[int, tuple[int, _Prepared | None]] = {}
        #: app pk -> (generation, whether its inputs are indexed): see ``indexed``.
        self._indexed: dict[int, tuple[int, bool]] = {}
        self._prepared_lock = threading.Lock()

    def changed(self) -> None:
        """Something a workflow run depends on changed (see ``_generation``)."""
        with self._prepared_lock:
            self._generation += 1
            self._prepared.clear()
            self._indexed.clear()

    def indexed(self, app_pk: int) -> bool:
        """Whether the app's inputs are indexed: as on the platform, by the embedder of its
        default workflow. The base workflow Empty has none (a default workflow of the app's
        own always has one: PatchApps refuses it otherwise). Cached like the pipeline's
        ``_prepare``."""
        from api.local.public import EMPTY, base_workflow_ref

        with self._prepared_lock:
            generation = self._generation
            cached = self._indexed.get(app_pk)
        if cached is not None and cached[0] == generation:
            return cached[1]
        indexed = self.models.default_workflow_id(app_pk) != base_workflow_ref(EMPTY)
        with self._prepared_lock:
            if self._generation == generation:
                self._indexed[app_pk] = (generation, indexed)
        return indexed

    # -- classifiers ---------------------------------------------------------------------------

    def resolve_classifier(
        self,
        app_pk: int,
        model: ModelRow,
        version_id: str,
        error: type[NodeError] | type[ApiFailure],
    ) -> ResolvedClassifier:
        """The trained classifier of ``model`` (a given version, or its latest trained one);
        raises ``error(code, description)`` when there is none."""
        from api.local.nodes.classifier import TrainedClassifier

        if version_id:
            version = self.models.get_version(model.pk, version_id)
            if version is None:
                raise error(
                    MODEL_DOES_NOT_EXIST,
                    f"model '{model.id}' has no version '{version_id}'",
                )
            if version.status_code != MODEL_TRAINED:
                raise error(
                    WORKFLOW_REQUIRE_TRAINED_MODEL,
                    f"version '{version_id}' of model '{model.id}' is not trained "
                    f"(status {version.status_code}: {version.status_description})",
                )
        else:
            found = self.models.latest_trained(model.pk)
            if found is None:
                raise error(
                    WORKFLOW_REQUIRE_TRAINED_MODEL,
                    f"model '{model.id}' has no trained version yet: train it with "
                    "PostModelVersions and wait for status 21100",
                )
            version = found
        with self._cache_lock:
            classifier = self._cache.get(version.id)
            if classifier is not None:
                self._cache.move_to_end(version.id)
        if classifier is None:
            blob = self.models.classifier_blob(version.pk)
            if blob is None:
                raise error(
                    WORKFLOW_REQUIRE_TRAINED_MODEL,
                    f"version '{version.id}' of model '{model.id}' has no stored classifier",
                )
            classifier = TrainedClassifier.from_bytes(blob)
            with self._cache_lock:
                self._cache[version.id] = classifier
                while len(self._cache) > _CLASSIFIER_CACHE:
                    self._cache.popitem(last=False)
        names = {c.id: c.name for c in self.store.get_concepts(app_pk, classifier.concept_ids)}
        return ResolvedClassifier(version.id, classifier, names)


def is_trainable(type_id: str) -> bool:
    return normalise_type_id(type_id) == EMBEDDING_CLASSIFIER
