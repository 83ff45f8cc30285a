"""Workflow validation (each error) and runs on real images with a trained classifier."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from PIL import Image

from api.local.engine import (
    ModelEntry,
    NodeError,
    NodeSpec,
    ResolvedClassifier,
    WorkflowError,
    first_failure,
    planned_annotations,
    run,
    validate,
)
from api.local.nodes.classifier import TrainedClassifier
from api.local.nodes.embedder import Embedder, get_embedder
from api.local.nodes.thresholder import (
    DEFAULT_HIGH,
    DEFAULT_LOW,
    ThresholderConfig,
    parse_thresholder,
)
from api.local.nodes.writer import WriterConfig, parse_writer

from .conftest import PARK, LabelledSet

E, K, T, W = "visual-embedder", "embedding-classifier", "concept-thresholder", "annotation-writer"


def wizard_graph() -> list[NodeSpec]:
    """The guided setup: confident -> SUCCESS, (low, high] band -> PENDING."""
    return [
        NodeSpec("embed", "embedder", "", E),
        NodeSpec("classify", "park-classifier", "", K, ["embed"]),
        NodeSpec("confident", "gt-high", "v-gt", T, ["classify"]),
        NodeSpec("write-success", "writer-ok", "v-w1", W, ["confident"]),
        NodeSpec("unsure", "gt-low", "v-gtl", "concept-threshold", ["classify"]),
        NodeSpec("not-confident", "le-high", "v-le", T, ["unsure"]),
        NodeSpec("write-pending", "writer-pending", "v-w2", W, ["not-confident"]),
    ]


def _thresholds(value: float, comparator: str) -> dict[str, Any]:
    return {
        "data": {"concepts": [{"id": c, "value": value} for c in PARK]},
        "params": {"concept_threshold_type": comparator},
    }


@dataclass
class FakeStore:
    """A Resolver over in-memory 'stored' models; records every call."""

    model: TrainedClassifier | None
    output_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    embedder_impl: Embedder = field(default_factory=get_embedder)

    def embedder(self, node: NodeSpec) -> Embedder:
        self.calls.append(("embedder", node.id))
        return self.embedder_impl

    def classifier(self, node: NodeSpec) -> ResolvedClassifier:
        self.calls.append(("classifier", node.id))
        if self.model is None:
            raise NodeError(22002, f"model {node.model_id!r} has no trained version")
        return ResolvedClassifier("ver-7", self.model, {"walker": "Walker"})

    def thresholder(self, node: NodeSpec) -> ThresholderConfig:
        self.calls.append(("thresholder", node.id))
        return parse_thresholder(self.output_info[node.model_id])

    def writer(self, node: NodeSpec) -> WriterConfig:
        self.calls.append(("writer", node.id))
        return parse_writer(self.output_info[node.model_id], default_user_id="owner")


def wizard_store(classifier: TrainedClassifier | None) -> FakeStore:
    return FakeStore(
        classifier,
        {
            "gt-high": _thresholds(DEFAULT_HIGH, "GREATER_THAN"),
            "gt-low": _thresholds(DEFAULT_LOW, 1.0),
            "le-high": _thresholds(DEFAULT_HIGH, "LESS_THAN_OR_EQUAL"),
            "writer-ok": {"params": {"annotation_status": 24150.0}},
            "writer-pending": {
                "params": {"annotation_status": "ANNOTATION_PENDING", "annotation_user_id": "bot"}
            },
        },
    )


# ---------------------------------------------------------------- validation


def _error(nodes: list[NodeSpec], catalog: dict[str, ModelEntry] | None = None) -> WorkflowError:
    with pytest.raises(WorkflowError) as err:
        validate(nodes, catalog)
    return err.value


def test_wizard_graph_is_valid() -> None:
    validate(wizard_graph())
    catalog = {
        n.model_id: ModelEntry(n.model_type_id, {n.model_version_id} - {""}) for n in wizard_graph()
    }
    validate(wizard_graph(), catalog)


def test_empty_workflow() -> None:
    assert _error([]).code == 22104


def test_duplicate_ids() -> None:
    nodes = [*wizard_graph(), NodeSpec("embed", "embedder", "", E)]
    err = _error(nodes)
    assert (err.code, err.description) == (22104, "node ids must be unique; repeated: 'embed'")


def test_missing_node_input() -> None:
    nodes = wizard_graph()
    nodes[3].node_inputs = ["confidnet"]
    err = _error(nodes)
    assert err.code == 22107
    assert err.description == (
        "node 'write-success' takes input from 'confidnet', which is not a node of this workflow"
    )


def test_cycle_names_its_nodes() -> None:
    nodes = [
        NodeSpec("embed", "e", "", E),
        NodeSpec("a", "t1", "", T, ["c"]),
        NodeSpec("b", "t2", "", T, ["a"]),
        NodeSpec("c", "t3", "", T, ["b", "k"]),
        NodeSpec("k", "cls", "", K, ["embed"]),
    ]
    err = _error(nodes)
    assert err.code == 22107
    assert err.description == "the workflow has a cycle: 'a' -> 'b' -> 'c' -> 'a'"


def test_self_loop_is_a_cycle() -> None:
    nodes = [NodeSpec("embed", "e", "", E), NodeSpec("t", "t", "", T, ["t"])]
    assert _error(nodes).description == "the workflow has a cycle: 't' -> 't'"


def test_thresholder_fed_by_the_image() -> None:
    err = _error([NodeSpec("t", "t", "", T)])
    assert err.code == 22107
    assert "node 't' (concept-thresholder) takes concepts, but it has no node_inputs" in (
        err.description
    )


def test_writer_fed_by_embeddings() -> None:
    err = _error([NodeSpec("embed", "e", "", E), NodeSpec("w", "w", "", W, ["embed"])])
    assert err.code == 22107
    assert err.description.startswith(
        "node 'w' (annotation-writer) takes concepts, but its input 'embed' "
        "(visual-embedder) gives embeddings"
    )


def test_classifier_fed_by_the_image_or_two_inputs() -> None:
    err = _error([NodeSpec("k", "k", "", K)])
    assert "feed it from a visual-embedder node" in err.description
    nodes = [
        NodeSpec("e1", "e", "", E),
        NodeSpec("e2", "e", "", E),
        NodeSpec("k", "k", "", K, ["e1", "e2"]),
    ]
    assert "takes exactly one embeddings input, it has 2" in _error(nodes).description


def test_embedder_with_node_inputs() -> None:
    nodes = [NodeSpec("e1", "e", "", E), NodeSpec("e2", "e", "", E, ["e1"])]
    assert "takes the workflow's image and cannot take input" in _error(nodes).description


def test_nothing_takes_a_writer_output() -> None:
    nodes = [*wizard_graph(), NodeSpec("after", "gt-high", "", T, ["write-success"])]
    assert "its input 'write-success' (annotation-writer) gives annotation" in (
        _error(nodes).description
    )


def test_unknown_model_and_version() -> None:
    nodes = wizard_graph()
    catalog = {n.model_id: ModelEntry(n.model_type_id, {"v-gt", "v-w1"}) for n in nodes}
    del catalog["writer-ok"]
    err = _error(nodes, catalog)
    assert (err.code, err.description) == (
        21200,
        "node 'write-success' uses model 'writer-ok', which does not exist in this app",
    )
    catalog["writer-ok"] = ModelEntry(W, {"v-w1"})
    err = _error(nodes, catalog)
    assert (err.code, err.description) == (
        21200,
        "node 'unsure' uses version 'v-gtl' of model 'gt-low', which has no such version",
    )


def test_type_mismatch_with_catalog_and_unknown_type() -> None:
    nodes = [NodeSpec("embed", "e", "", E)]
    err = _error(nodes, {"e": ModelEntry(K)})
    assert err.code == 22104 and "is a 'embedding-classifier'" in err.description
    err = _error([NodeSpec("x", "m", "", "visual-detector")])
    assert err.code == 22104 and "unknown model type 'visual-detector'" in err.description


# ---------------------------------------------------------------- running


def _by_id(outputs: list[Any]) -> dict[str, Any]:
    return {o.node_id: o for o in outputs}


def test_dry_run_returns_plans_in_node_order(
    park_sets: tuple[LabelledSet, LabelledSet], park_classifier: TrainedClassifier
) -> None:
    store = wizard_store(park_classifier)
    nodes = wizard_graph()
    image = park_sets[1].images[0]  # a walker
    outputs = run(nodes, image, store, input_id="in-1")
    assert [o.node_id for o in outputs] == [n.id for n in nodes]
    assert all(o.ok for o in outputs), [(o.node_id, o.status_description) for o in outputs]
    out = _by_id(outputs)
    assert out["embed"].embedding is not None
    assert out["embed"].data_dict()["embeddings"][0]["num_dimensions"] == 329
    assert out["classify"].model_version_id == "ver-7"
    assert len(out["classify"].concepts) == 5
    top = out["classify"].concepts[0]
    assert top.id == "walker" and top.name == "Walker"
    plans = planned_annotations(outputs)
    assert len(plans) == 1  # exactly one band holds the top concept
    plan = plans[0]
    assert plan.input_id == "in-1" and plan.model_version_id == "ver-7"
    assert [c.id for c in plan.concepts] == ["walker"]
    if top.value > DEFAULT_HIGH:
        assert (plan.status, plan.user_id) == (24150, "owner")
        assert out["write-pending"].annotation is None
    else:
        assert (plan.status, plan.user_id) == (24151, "bot")
    # The engine only reads from the store: the resolver is never asked to write.
    assert {kind for kind, _ in store.calls} == {"embedder", "classifier", "thresholder", "writer"}
    assert first_failure(outputs) is None


def test_bands_over_the_park_test_set(
    park_sets: tuple[LabelledSet, LabelledSet], park_classifier: TrainedClassifier
) -> None:
    store = wizard_store(park_classifier)
    success = pending = correct = 0
    for image, concept in zip(park_sets[1].images, park_sets[1].concepts, strict=True):
        for plan in planned_annotations(run(wizard_graph(), image, store)):
            if plan.status == 24150:
                success += 1
                correct += plan.concepts[0].id == concept
            else:
                pending += 1
    assert success >= 0.6 * len(park_sets[1].images)
    assert correct / success >= 0.95


def test_nodes_given_out_of_order_run_topologically(
    park_sets: tuple[LabelledSet, LabelledSet], park_classifier: TrainedClassifier
) -> None:
    nodes = list(reversed(wizard_graph()))
    outputs = run(nodes, park_sets[1].images[3], wizard_store(park_classifier))
    assert [o.node_id for o in outputs] == [n.id for n in nodes]
    assert all(o.ok for o in outputs)


def test_precomputed_embedding_skips_embedding(
    park_classifier: TrainedClassifier, park_sets: tuple[LabelledSet, LabelledSet]
) -> None:
    class Refuses:
        id = "handcrafted-v1"
        dim = 329

        def embed(self, image: Image.Image) -> np.ndarray:
            raise AssertionError("must not embed again")

        def embed_many(self, images: list[Image.Image]) -> np.ndarray:
            raise AssertionError("must not embed again")

    store = wizard_store(park_classifier)
    store.embedder_impl = Refuses()
    vector = get_embedder().embed(park_sets[1].images[0])
    outputs = run(wizard_graph(), None, store, embeddings={"handcrafted-v1": vector})
    assert all(o.ok for o in outputs)
    assert np.array_equal(outputs[0].embedding, vector)


def test_untrained_classifier_fails_its_node_and_downstream(
    park_sets: tuple[LabelledSet, LabelledSet],
) -> None:
    outputs = run(wizard_graph(), park_sets[1].images[0], wizard_store(None))
    out = _by_id(outputs)
    assert out["embed"].ok
    assert (out["classify"].status_code, out["classify"].status_description) == (
        22002,
        "model 'park-classifier' has no trained version",
    )
    assert out["confident"].status_code == 10020
    assert out["confident"].status_description == "not run: its input 'classify' failed"
    assert out["write-pending"].status_code == 10020
    assert planned_annotations(outputs) == []
    failure = first_failure(outputs)
    assert failure is not None and failure.node_id == "classify"
    assert out["classify"].data_dict() == {}


def test_bad_writer_params_fail_only_that_writer(
    park_sets: tuple[LabelledSet, LabelledSet], park_classifier: TrainedClassifier
) -> None:
    store = wizard_store(park_classifier)
    store.output_info["writer-pending"] = {"params": {"annotation_status": 24158}}
    out = _by_id(run(wizard_graph(), park_sets[1].images[0], store))
    assert out["write-pending"].status_code == 21202
    assert "annotation_status: 24158 (ANNOTATION_REVIEW_DENIED)" in (
        out["write-pending"].status_description
    )
    assert out["write-success"].ok


def test_unexpected_errors_become_node_failures(park_classifier: TrainedClassifier) -> None:
    store = wizard_store(park_classifier)
    store.output_info.pop("gt-high")
    outputs = run(wizard_graph(), Image.new("RGB", (64, 64), "green"), store)
    out = _by_id(outputs)
    assert out["confident"].status_code == 21313
    assert out["confident"].status_description == "KeyError: 'gt-high'"
    assert out["unsure"].ok


def test_no_image_and_no_embedding(park_classifier: TrainedClassifier) -> None:
    out = run(wizard_graph(), None, wizard_store(park_classifier))
    assert out[0].status_description == "there is no image to embed"


def test_embedder_mismatch_is_reported(park_classifier: TrainedClassifier) -> None:
    class Other:
        id = "onnx-other"
        dim = 329

        def embed(self, image: Image.Image) -> np.ndarray:
            return get_embedder().embed(image)

        def embed_many(self, images: list[Image.Image]) -> np.ndarray:
            return get_embedder().embed_many(images)

    store = wizard_store(park_classifier)
    store.embedder_impl = Other()
    out = _by_id(run(wizard_graph(), Image.new("RGB", (8, 8)), store))
    assert "trained on 'handcrafted-v1' embeddings, but its input gives 'onnx-other'" in (
        out["classify"].status_description
    )


def test_tutorial_wiring_and_merged_inputs(
    park_sets: tuple[LabelledSet, LabelledSet], park_classifier: TrainedClassifier
) -> None:
    """GREATER_THAN high and LESS_THAN low both feed one writer: concepts are merged."""
    store = wizard_store(park_classifier)
    store.output_info["lt-low"] = _thresholds(DEFAULT_LOW, "LESS_THAN")
    nodes = [
        NodeSpec("embed", "embedder", "", E),
        NodeSpec("classify", "park-classifier", "", K, ["embed"]),
        NodeSpec("high", "gt-high", "", T, ["classify"]),
        NodeSpec("low", "lt-low", "", T, ["classify"]),
        NodeSpec("write", "writer-pending", "", W, ["high", "low"], suppress_output=True),
    ]
    out = _by_id(run(nodes, park_sets[1].images[0], store, input_id="x"))
    low_ids = {c.id for c in out["low"].concepts}
    high_ids = {c.id for c in out["high"].concepts}
    assert {c.id for c in out["write"].concepts} == low_ids | high_ids
    assert out["write"].suppress_output
    assert out["write"].annotation.model_version_id == "ver-7"


def test_invalid_graph_raises_before_running(park_classifier: TrainedClassifier) -> None:
    store = wizard_store(park_classifier)
    with pytest.raises(WorkflowError):
        run([NodeSpec("t", "gt-high", "", T)], None, store)
    assert store.calls == []
