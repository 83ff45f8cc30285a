"""Models at work: training, prediction, workflow runs and the default workflow on ingest.

One :class:`Automation` per backend. It owns

- the **training queue**: PostModelVersions commits a version at 21103 (QUEUED); a single
  background task trains queued versions one at a time in a dedicated thread (never on the
  event loop): 21101 (TRAINING), then 21100 (TRAINED, with the classifier stored in the
  version row) or 21106 (TRAINING_FAILED, the reason in the status description). Labels are
  the SUCCESS annotations of the app's processed inputs on the version's concepts (value > 0
  positive, 0 negative); embeddings come from ingest, or are computed and stored on demand.
- **restart while training**: queued versions are durable rows, so a version left QUEUED or
  TRAINING by a crash or stop is *resumed*: trained again from the start at the next start,
  with the labels as they are then. A version that was interrupted
  :data:`MAX_TRAINING_ATTEMPTS` times (training itself keeps killing the process) is marked
  21106 with that reason instead of looping forever.
- the **ingest pipeline** (``IngestWorker.pipeline``): embeds each input with the default
  embedder, then runs its app's default workflow with that embedding (no second embedding);
  the writers' annotations, the embedding and the workflow status are committed with the
  input's 30000 status in one transaction. A workflow that fails on an input (any node
  failing) writes *nothing* for that input and records the reason as its workflow status;
  the queue goes on.
- **prediction and dry runs** (PostModelOutputs, PostWorkflowResults), which write nothing.

Imports of numpy, scikit-learn and Pillow happen inside functions, so importing the backend
stays light.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from api.local.engine import (
    MODEL_DOES_NOT_EXIST,
    WORKFLOW_INVALID_ARGUMENT,
    WORKFLOW_REQUIRE_TRAINED_MODEL,
    ModelEntry,
    NodeError,
    NodeOutput,
    NodeSpec,
    ResolvedClassifier,
    WorkflowError,
    first_failure,
    planned_annotations,
    run,
    validate,
)
from api.local.imaging import ImageRejected, decode, to_rgb
from api.local.ingest import IngestWorker, InputRef, PipelineResult
from api.local.modelstore import (
    MODEL_TRAINED,
    MODEL_TRAINING,
    MODEL_TRAINING_FAILED,
    MODEL_UNTRAINED,
    ModelStore,
    node_key,
)
from api.local.nodes.common import ConfigError
from api.local.nodes.types import EMBEDDING_CLASSIFIER, VISUAL_EMBEDDER, normalise_type_id
from api.local.rows import (
    ConceptValue,
    EmbeddingRow,
    ModelRow,
    TrainingJob,
    WorkflowRow,
    WorkflowWrite,
)
from api.local.status import FAILURE, SUCCESS, ApiFailure
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

log = logging.getLogger(__name__)

#: A version interrupted this many times (process stopped while training) is marked failed.
MAX_TRAINING_ATTEMPTS: Final = 3
_CLASSIFIER_CACHE: Final = 32
#: Longest wait for an app's queued ingest before training starts anyway (seconds).
INGEST_SETTLE: Final = 120.0


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

    def __init__(self, auto: Automation, app_pk: int, models: Mapping[str, ModelRow]) -> None:
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


class Automation:
    """Training, prediction and workflow runs for one backend (see the module docstring)."""

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
        ingest.pipeline = self

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the training task; versions left queued or training are resumed."""
        self._stopping = False
        self._wake = asyncio.Event()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="clarifai-train")
        self._wake.set()
        self._task = asyncio.create_task(self._train_loop(), name="training")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop training. A version still training after ``grace`` seconds stays 21101 in the
        database and is resumed at the next start."""
        self._stopping = True
        if self._current is not None and not self._current.done():
            await asyncio.wait({self._current}, timeout=grace)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def wake(self) -> None:
        self._wake.set()

    def changed(self) -> None:
        """Something a workflow run depends on changed (see ``_generation``)."""
        with self._prepared_lock:
            self._generation += 1
            self._prepared.clear()
            self._indexed.clear()

    @property
    def training(self) -> bool:
        return self._training

    # -- training ------------------------------------------------------------------------------

    async def _train_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while not self._stopping:
                jobs = await asyncio.to_thread(self.models.training_jobs)
                if not jobs:
                    break
                for job in jobs:
                    if self._stopping:
                        return
                    await self._settle_ingest(job.app_pk)
                    if self._stopping:
                        return
                    self._training = True
                    try:
                        self._current = loop.run_in_executor(self._pool, self.train_one, job)
                        await asyncio.shield(self._current)
                    except Exception:
                        log.exception("training version %s failed unexpectedly", job.version_id)
                        await asyncio.to_thread(
                            self.models.set_version_status,
                            job.version_pk,
                            MODEL_TRAINING_FAILED,
                            "training failed: internal error (see the server log)",
                        )
                    finally:
                        self._training = False

    async def _settle_ingest(self, app_pk: int) -> None:
        """Wait (up to INGEST_SETTLE seconds) until the app has no inputs queued for ingest:
        training uses processed inputs, and labels posted just before PostModelVersions would
        otherwise be left out while their images are still being processed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + INGEST_SETTLE
        while not self._stopping and loop.time() < deadline:
            if await asyncio.to_thread(self.store.app_job_count, app_pk) == 0:
                return
            await asyncio.sleep(0.05)

    def train_one(self, job: TrainingJob) -> None:
        """Train one version (blocking; runs in the training thread)."""
        if job.attempts >= MAX_TRAINING_ATTEMPTS:
            self.models.set_version_status(
                job.version_pk,
                MODEL_TRAINING_FAILED,
                f"training was interrupted {job.attempts} times (the server stopped while "
                "training this version); train again with PostModelVersions",
            )
            return
        attempts = job.attempts + 1
        self.models.set_version_status(
            job.version_pk,
            MODEL_TRAINING,
            "Model is training" + (f" (attempt {attempts}, resumed)" if attempts > 1 else ""),
            training_info={"attempts": attempts},
        )
        from api.local.nodes.classifier import TrainingError, train

        try:
            if not self.indexed(job.app_pk):
                raise TrainingError(
                    "the app's default workflow has no embedding model (an app on base "
                    "workflow Empty indexes nothing), so there are no embeddings to train "
                    "on: make a workflow with clarifai/main's general-image-embedding the "
                    "app's default, then add the inputs again"
                )
            embeddings, labels, skipped = self._training_set(job)
            classifier = train(
                embeddings,
                labels,
                job.concept_ids,
                mutually_exclusive=job.mutually_exclusive,
                embedder_id=default_embedder().id,
            )
        except TrainingError as exc:
            self.models.set_version_status(
                job.version_pk,
                MODEL_TRAINING_FAILED,
                exc.reason,
                training_info={"attempts": attempts, "error": exc.reason},
            )
            return
        from api.local.public import EMBEDDER_MODEL, EMBEDDER_VERSION, PUBLIC_APP, PUBLIC_USER

        info = {
            **classifier.info.to_dict(),
            "attempts": attempts,
            "skipped_inputs": skipped,
            # The base workflow's embedder whose embeddings it was trained on (issue #22).
            "embedder_model": {
                "id": EMBEDDER_MODEL,
                "user_id": PUBLIC_USER,
                "app_id": PUBLIC_APP,
                "model_version": {"id": EMBEDDER_VERSION},
            },
        }
        self.models.set_version_status(
            job.version_pk,
            MODEL_TRAINED,
            "Model is trained and ready",
            classifier=classifier.to_bytes(),
            training_info=info,
            total_input_count=classifier.info.input_count,
            active_concept_count=int(classifier.active.sum()),
        )
        self.changed()

    def _training_set(
        self, job: TrainingJob
    ) -> tuple[npt.NDArray[np.float32], list[dict[str, float]], int]:
        import numpy as np

        embedder = default_embedder()
        rows = self.models.training_labels(job.app_pk, job.concept_ids)
        stored = self.models.embeddings([pk for pk, _, _ in rows], embedder.id)
        vectors: list[npt.NDArray[np.float32]] = []
        labels: list[dict[str, float]] = []
        fresh: list[tuple[int, EmbeddingRow]] = []
        skipped = 0
        for input_pk, blob_sha, label in rows:
            row = stored.get(input_pk)
            if row is None or row.dim != embedder.dim:
                try:
                    vector = self.embed_blob(embedder, blob_sha)
                except ImageRejected:
                    skipped += 1
                    continue
                row = embedding_row(embedder, vector)
                fresh.append((input_pk, row))
            vectors.append(vector_of(row))
            labels.append(label)
        self.models.put_embeddings(fresh)
        matrix = np.stack(vectors) if vectors else np.zeros((0, embedder.dim), np.float32)
        return matrix, labels, skipped

    def embed_blob(self, embedder: Embedder, blob_sha: str | None) -> npt.NDArray[np.float32]:
        if not blob_sha:
            raise ImageRejected("the input has no image bytes")
        try:
            data = self.store.read_blob(blob_sha)
        except FileNotFoundError:
            raise ImageRejected("the stored image bytes are missing") from None
        return embedder.embed(to_rgb(decode(data, self.ingest.limits).image))

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

    # -- workflows -----------------------------------------------------------------------------

    def catalog(self, app_pk: int, nodes: Sequence[dict[str, Any]]) -> dict[str, ModelEntry]:
        models = self.models.node_models(app_pk, nodes)
        versions = self.models.version_ids([m.pk for m in models.values()])
        return {
            key: ModelEntry(m.model_type_id, tuple(versions.get(m.pk, ())))
            for key, m in models.items()
        }

    def check_workflow(self, app_pk: int, nodes: list[dict[str, Any]]) -> None:
        """Validate a graph against the app's models; ApiFailure with the engine's code."""
        specs = [
            NodeSpec(
                id=str(n["id"]),
                model_id=str(n["model_id"]),
                model_version_id=str(n.get("model_version_id", "")),
                node_inputs=list(n.get("node_inputs", [])),
                suppress_output=bool(n.get("suppress_output", False)),
                model_key=node_key(n),
            )
            for n in nodes
        ]
        try:
            validate(specs, self.catalog(app_pk, nodes))
        except WorkflowError as exc:
            raise ApiFailure(exc.code, exc.description) from None
        self._refuse_untrained_embedders(app_pk, nodes)
        self._pin_versions(app_pk, nodes)

    def _pin_versions(self, app_pk: int, nodes: list[dict[str, Any]]) -> None:
        """Every node pins a version, as on the platform: a node sent without one gets its
        model's latest (latest trained, for a trainable model) at the time of the write, so a
        later version changes no workflow until a node is moved to it. A model with no
        version at all cannot run: refused, naming PostModelVersions."""
        models = self.models.node_models(app_pk, nodes)
        for node in nodes:
            if node.get("model_version_id"):
                continue
            model = models[node_key(node)]  # validate() found every node's model
            version = None
            if is_trainable(model.model_type_id):
                version = self.models.latest_trained(model.pk)
            if version is None:
                version = self.models.operator_version(model, "")
            if version is None:
                raise ApiFailure(
                    WORKFLOW_INVALID_ARGUMENT,
                    f"node {node['id']!r} uses model {model.id!r}, which has no version yet: "
                    "create one with PostModelVersions (a thresholder's or writer's "
                    "configuration goes in its output_info), then build the workflow",
                )
            node["model_version_id"] = version.id

    def _refuse_untrained_embedders(self, app_pk: int, nodes: Sequence[dict[str, Any]]) -> None:
        """As on the platform, an app-local ``visual-embedder`` runs only once it has a trained
        version (the platform trains no embedder of the app's own: it is a custom model someone
        uploaded). PostModels makes none here, so only data dirs from before the public app
        (whose embedder models got a ready version at creation) have one."""
        public_pk = self.models.public_app_pk()
        for node in nodes:
            model = self.models.node_models(app_pk, [node]).get(node_key(node))
            if model is None or model.app_pk == public_pk:
                continue
            if normalise_type_id(model.model_type_id) != VISUAL_EMBEDDER:
                continue
            if self.models.latest_trained(model.pk) is None:
                raise ApiFailure(
                    MODEL_UNTRAINED,
                    f"node {node['id']!r} uses model {model.id!r}, a visual-embedder of this app "
                    "with no trained version, which cannot run; use clarifai/main's "
                    "general-image-embedding (model.user_id 'clarifai', model.app_id 'main'), "
                    "the embedder that indexes the app's inputs",
                )

    def run_workflow(
        self,
        app_pk: int,
        nodes: Sequence[dict[str, Any]],
        sources: Sequence[Source],
    ) -> list[list[NodeOutput] | None]:
        """Run a stored graph on loaded inputs (blocking). None for inputs that failed to load."""
        models = self.models.node_models(app_pk, nodes)
        try:
            specs = node_specs(nodes, models)
        except WorkflowError as exc:
            raise ApiFailure(exc.code, exc.description) from None
        resolver = StoreResolver(self, app_pk, models)
        out: list[list[NodeOutput] | None] = []
        for source in sources:
            if source.error:
                out.append(None)
                continue
            if source.frames is not None:
                out.append(self._run_frames(specs, resolver, source))
                continue
            out.append(
                run(
                    specs,
                    source.image,
                    resolver,
                    input_id=source.input_id,
                    embeddings=source.embeddings,
                )
            )
        return out

    def _run_frames(
        self, specs: Sequence[NodeSpec], resolver: StoreResolver, source: Source
    ) -> list[NodeOutput]:
        """A graph on every sampled frame of a video: one output per node, whose ``frames``
        hold that node's output on each frame, in time order (``data.frames``)."""
        import numpy as np

        embedder = default_embedder()
        merged: list[NodeOutput] | None = None

        def no_pixels() -> Image.Image:
            raise ImageRejected(
                f"video frames are embedded with {embedder.id} only; this node needs pixels"
            )

        for sampled in source.frames or []:
            assert sampled.vector is not None
            vector = np.frombuffer(sampled.vector, dtype=np.float32)
            outputs = run(
                specs,
                no_pixels,
                resolver,
                input_id=source.input_id,
                embeddings={embedder.id: vector},
            )
            if merged is None:
                merged = [
                    NodeOutput(
                        node_id=o.node_id,
                        model_id=o.model_id,
                        model_version_id=o.model_version_id,
                        model_type_id=o.model_type_id,
                        suppress_output=o.suppress_output,
                        frames=[],
                    )
                    for o in outputs
                ]
            for whole, one in zip(merged, outputs, strict=True):
                assert whole.frames is not None
                whole.frames.append(((sampled.index, sampled.time_ms), one))
                if not one.ok and whole.ok:
                    whole.status_code = one.status_code
                    whole.status_description = (
                        f"frame {sampled.index} ({sampled.time_ms} ms): {one.status_description}"
                    )
        return merged or []

    # -- the ingest pipeline -------------------------------------------------------------------

    @property
    def embedder_name(self) -> str:
        """Ingest embeds every input with the default embedder (see IngestPipeline).

        Asked on the event loop: naming the embedder must not import numpy."""
        from api.local.nodes.types import DEFAULT_EMBEDDER

        return DEFAULT_EMBEDDER

    def finish_many(
        self,
        refs: Sequence[InputRef],
        vectors: Sequence[bytes | None],
        image: Callable[[int], Image.Image],
    ) -> list[PipelineResult | Exception]:
        """The embedding row and the default workflow of each analysed input (worker thread)."""
        import numpy as np

        embedder = default_embedder()
        out: list[PipelineResult | Exception] = []
        for index, (ref, vector) in enumerate(zip(refs, vectors, strict=True)):
            try:
                if vector is None:
                    raise ImageRejected("the input was not embedded")
                array = np.frombuffer(vector, dtype=np.float32)
                # image() decodes at most once per input (the caller keeps what it decoded).
                load = functools.partial(image, index)
                row = EmbeddingRow(embedder.id, embedder.dim, vector)
                out.append(self._after_embedding(ref, load, embedder, array, row))
            except Exception as exc:
                out.append(exc)
        return out

    def finish_video(self, ref: InputRef, frames: Sequence[SampledVector]) -> PipelineResult:
        """The app's default workflow on each sampled frame of a video (worker thread), from
        the frames' vectors: the writers' annotations are frame-level (each keeps its frame's
        index and time). As for an image, a workflow that fails on any frame writes nothing
        and says which frame in the workflow status. The video keeps no embedding row (one
        per input would stand for none of its frames)."""
        import numpy as np

        if not self.indexed(ref.app_pk):
            return PipelineResult()
        prepared = self._prepare(ref.app_pk)
        if prepared is None:
            return PipelineResult()
        workflow = prepared.workflow
        if prepared.error is not None:
            return PipelineResult(
                workflow_status=(
                    FAILURE,
                    f"default workflow '{workflow.id}' cannot run: {prepared.error.description}",
                )
            )
        embedder = default_embedder()
        result = PipelineResult()

        def no_pixels() -> Image.Image:
            raise ImageRejected(
                "this workflow needs a video frame's pixels (an embedder other than "
                f"{embedder.id}); video frames are embedded with {embedder.id} only"
            )

        written_frames = 0
        for sampled in frames:
            if sampled.vector is None:
                raise ImageRejected(f"frame {sampled.index} of the video was not embedded")
            vector = np.frombuffer(sampled.vector, dtype=np.float32)
            try:
                outputs = run(
                    prepared.specs,
                    no_pixels,
                    prepared.resolver,
                    input_id=ref.input_id,
                    embeddings={embedder.id: vector},
                )
            except WorkflowError as exc:
                result.annotations = []
                result.workflow_status = (
                    FAILURE,
                    f"default workflow '{workflow.id}' cannot run: {exc.description}",
                )
                return result
            failed = first_failure(outputs)
            if failed is not None:
                result.annotations = []
                result.workflow_status = (
                    FAILURE,
                    f"default workflow '{workflow.id}': node '{failed.node_id}' failed on "
                    f"frame {sampled.index} ({sampled.time_ms} ms) ({failed.status_code}): "
                    f"{failed.status_description}; nothing was written",
                )
                return result
            plans = planned_annotations(outputs)
            written_frames += bool(plans)
            for plan in plans:
                result.annotations.append(
                    WorkflowWrite(
                        concepts=[ConceptValue(c.id, c.name, c.value) for c in plan.concepts],
                        status_code=plan.status,
                        user_id=plan.user_id,
                        model_version_id=plan.model_version_id,
                        annotation_info=(
                            dict(plan.annotation_info) if plan.annotation_info is not None else None
                        ),
                        frame=(sampled.index, sampled.time_ms),
                    )
                )
        count = len(result.annotations)
        result.workflow_status = (
            SUCCESS,
            f"default workflow '{workflow.id}' wrote {count} annotation{'s' if count != 1 else ''} "
            f"on {written_frames} of {len(frames)} sampled frames",
        )
        return result

    def indexed(self, app_pk: int) -> bool:
        """Whether the app's inputs are indexed: as on the platform, by the embedder of its
        default workflow. The base workflow Empty has none (a default workflow of the app's
        own always has one: PatchApps refuses it otherwise). Cached like ``_prepare``."""
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

    def _after_embedding(
        self,
        ref: InputRef,
        image: Callable[[], Image.Image],
        embedder: Embedder,
        vector: npt.NDArray[np.float32],
        row: EmbeddingRow,
    ) -> PipelineResult:
        """The embedding row plus the app's default workflow run on one input."""
        if not self.indexed(ref.app_pk):
            return PipelineResult()  # base workflow Empty: the input is not indexed
        result = PipelineResult(embeddings=[row])
        prepared = self._prepare(ref.app_pk)
        if prepared is None:
            return result
        workflow = prepared.workflow
        try:
            if prepared.error is not None:
                raise prepared.error
            outputs = run(
                prepared.specs,
                image,
                prepared.resolver,
                input_id=ref.input_id,
                embeddings={embedder.id: vector},
            )
        except WorkflowError as exc:
            result.workflow_status = (
                FAILURE,
                f"default workflow '{workflow.id}' cannot run: {exc.description}",
            )
            return result
        failed = first_failure(outputs)
        if failed is not None:
            result.workflow_status = (
                FAILURE,
                f"default workflow '{workflow.id}': node '{failed.node_id}' failed "
                f"({failed.status_code}): {failed.status_description}; nothing was written",
            )
            return result
        for plan in planned_annotations(outputs):
            result.annotations.append(
                WorkflowWrite(
                    concepts=[ConceptValue(c.id, c.name, c.value) for c in plan.concepts],
                    status_code=plan.status,
                    user_id=plan.user_id,
                    model_version_id=plan.model_version_id,
                    annotation_info=(
                        dict(plan.annotation_info) if plan.annotation_info is not None else None
                    ),
                )
            )
        count = len(result.annotations)
        result.workflow_status = (
            SUCCESS,
            f"default workflow '{workflow.id}' wrote {count} annotation{'s' if count != 1 else ''}",
        )
        return result

    def _prepare(self, app_pk: int) -> _Prepared | None:
        """The app's default workflow, ready to run (cached until something changes)."""
        with self._prepared_lock:
            generation = self._generation
            cached = self._prepared.get(app_pk)
        if cached is not None and cached[0] == generation:
            return cached[1]
        prepared: _Prepared | None = None
        workflow = self.models.default_workflow(app_pk)
        if workflow is not None:
            models = self.models.node_models(app_pk, workflow.nodes)
            prepared = _Prepared(workflow, [], StoreResolver(self, app_pk, models))
            try:
                prepared.specs = node_specs(workflow.nodes, models)
            except WorkflowError as exc:
                prepared.error = exc
        with self._prepared_lock:
            if self._generation == generation:
                self._prepared[app_pk] = (generation, prepared)
        return prepared

    # -- PatchApps hook ------------------------------------------------------------------------

    def check_default_workflow(self, user_id: str, app_id: str, workflow_id: str) -> None:
        from api.local.modelstore import workflow_missing

        app = self.store.get_app(user_id, app_id)
        if app is None:
            return  # PatchApps answers "app does not exist" itself
        workflow = self.models.get_workflow(app.pk, workflow_id)
        if workflow is None:
            raise workflow_missing(workflow_id)
        # As on the platform, the default workflow indexes new inputs: it must keep the base
        # workflow's embedder (an app-local embedder does not index the app).
        public_pk = self.models.public_app_pk()
        models = self.models.node_models(app.pk, workflow.nodes)
        if not any(
            m.app_pk == public_pk and normalise_type_id(m.model_type_id) == VISUAL_EMBEDDER
            for m in models.values()
        ):
            raise ApiFailure(
                WORKFLOW_INVALID_ARGUMENT,
                f"workflow '{workflow_id}' has no embedding node with clarifai/main's "
                "general-image-embedding, which indexes the app's inputs: as the default it "
                "would leave new inputs unindexed; start it with that node (as the base "
                "workflow Universal does)",
            )


def is_trainable(type_id: str) -> bool:
    return normalise_type_id(type_id) == EMBEDDING_CLASSIFIER
