"""The wizard's plan and the workflow rules, without a terminal or a server."""

from __future__ import annotations

from dataclasses import replace

from api.autoannotate import (
    ANNOTATION_WRITER,
    CONCEPT_THRESHOLDER,
    EMBEDDING_CLASSIFIER,
    TUTORIAL,
    VISUAL_EMBEDDER,
    WizardSpec,
    comparator_of,
    desired_models,
    desired_workflow,
    edge_problem,
    id_problem,
    plan,
    threshold_problem,
    workflow_problems,
    writer_status_of,
)
from api.models import (
    PUBLIC_EMBEDDER_ID,
    Concept,
    InputRef,
    Model,
    ModelVersion,
    NodeOutput,
    ValueComparator,
    WorkflowNode,
    WorkflowResult,
)
from tui.widgets.dry_run_text import NOTHING_WRITTEN, describe_results
from tui.widgets.graph import find_cycle
from tui.widgets.workflow_graph import (
    connect,
    delete_node,
    disconnect,
    node_lines,
    rename_node,
    to_graph,
)

SPEC = WizardSpec(concepts=("one", "two", "three"), annotation_user_id="me")


PUBLIC_EMBEDDER = Model(
    PUBLIC_EMBEDDER_ID, model_type_id="visual-embedder", user_id="clarifai", app_id="main"
)


def models_of(spec: WizardSpec) -> dict[str, Model]:
    """What the app holds after the wizard ran with `spec` (and the public embedder it uses,
    as fetch_state gives it)."""
    out = {
        m.id: Model(
            m.id,
            model_type_id=m.model_type_id,
            concepts=m.concepts,
            params=m.params,
            version=ModelVersion(f"{m.id}-v1", status_code=21100),
        )
        for m in desired_models(spec)
    }
    out[PUBLIC_EMBEDDER.id] = PUBLIC_EMBEDDER
    return out


def test_review_band_builds_the_seed_graph() -> None:
    workflow = desired_workflow(SPEC, "v1", "ev1")
    wiring = {n.id: n.node_inputs for n in workflow.nodes}
    embed = workflow.nodes[0]
    # the public embedder of clarifai/main, pinned, never an app-local one
    assert (embed.id, embed.model_id, embed.model_version_id) == (
        "embed",
        PUBLIC_EMBEDDER_ID,
        "ev1",
    )
    assert (embed.model_user_id, embed.model_app_id) == ("clarifai", "main")
    assert all(m.model_type_id != "visual-embedder" for m in desired_models(SPEC))
    assert wiring == {
        "embed": (),
        "classify": ("embed",),
        "confident": ("classify",),
        "write-success": ("confident",),
        "unsure": ("classify",),
        "unsure-band": ("unsure",),
        "write-pending": ("unsure-band",),
    }
    models = {m.node_id: m for m in desired_models(SPEC)}
    types = {m.id: m.model_type_id for m in models.values()}
    types[PUBLIC_EMBEDDER_ID] = "visual-embedder"
    assert comparator_of(models["confident"].params) is ValueComparator.GREATER_THAN
    assert [c.value for c in models["confident"].concepts] == [0.9, 0.9, 0.9]
    assert comparator_of(models["unsure"].params) is ValueComparator.GREATER_THAN
    assert [c.value for c in models["unsure"].concepts] == [0.5, 0.5, 0.5]
    assert comparator_of(models["unsure-band"].params) is ValueComparator.LESS_THAN_OR_EQUAL
    assert writer_status_of(models["write-success"].params) == 24150
    assert writer_status_of(models["write-pending"].params) == 24151
    assert models["write-pending"].params["annotation_user_id"] == "me"
    assert next(n for n in workflow.nodes if n.id == "classify").model_version_id == "v1"
    assert workflow_problems(workflow.nodes, types) == []


def test_tutorial_preset_and_overrides() -> None:
    spec = WizardSpec(
        concepts=("one", "two"),
        annotation_user_id="ann",
        preset=TUTORIAL,
        high_overrides={"two": 0.8},
        low_overrides={"one": 0.3},
    )
    models = {m.node_id: m for m in desired_models(spec)}
    assert set(models) == {
        "classify",
        "confident",
        "write-success",
        "low",
        "write-pending",
    }
    assert comparator_of(models["low"].params) is ValueComparator.LESS_THAN
    assert {c.id: c.value for c in models["low"].concepts} == {"one": 0.3, "two": 0.5}
    assert {c.id: c.value for c in models["confident"].concepts} == {"one": 0.9, "two": 0.8}
    wiring = {n.id: n.node_inputs for n in desired_workflow(spec).nodes}
    assert wiring["write-pending"] == ("low",)


def test_spec_problems() -> None:
    assert SPEC.problems() == {}
    bad = WizardSpec(
        concepts=(),
        annotation_user_id=" ",
        high=1.5,
        low_overrides={"x": 0.95},
        workflow_id="no spaces",
    )
    problems = bad.problems()
    assert set(problems) == {"concepts", "high", "workflow_id", "annotation_user_id"}
    inverted = WizardSpec(concepts=("a",), annotation_user_id="me", low_overrides={"a": 0.95})
    assert "must be below high" in inverted.problems()["concept:a"]


def test_plan_creates_then_keeps_then_updates_what_changed() -> None:
    first = plan(SPEC, {}, set())
    assert {s.action for s in first.models} == {"create"}
    assert first.workflow_action == "create"
    again = plan(SPEC, models_of(SPEC), {SPEC.workflow_id})
    assert {s.action for s in again.models} == {"keep"}
    # a kept model's node pins the version it has
    assert {s.version_id for s in again.models} == {f"{s.model.id}-v1" for s in again.models}
    assert again.workflow_action == "update"
    changed = WizardSpec(concepts=SPEC.concepts, annotation_user_id="someone-else", high=0.95)
    result = plan(changed, models_of(SPEC), {"auto-annotate"})
    steps = {s.model.node_id: s for s in result.models}
    assert steps["confident"].action == "update" and steps["confident"].reason == "thresholds"
    assert steps["write-success"].reason == "annotation user"
    # a changed setting is a new version, never PatchModels (issue #32)
    assert (
        "update model auto-annotate-confident (concept-thresholder): a new version: thresholds"
        in result.describe()
    )
    assert steps["classify"].action == "keep"
    assert steps["unsure"].action == "keep"
    # the server may send enums back as numbers (or floats): still the same
    stored = models_of(SPEC)
    confident = stored["auto-annotate-confident"]
    stored["auto-annotate-confident"] = Model(
        confident.id,
        model_type_id="concept-threshold",
        concepts=confident.concepts,
        params={"concept_threshold_type": 1.0},
        version=confident.version,
    )
    writer = stored["auto-annotate-write-success"]
    stored[writer.id] = Model(
        writer.id,
        model_type_id=ANNOTATION_WRITER,
        params={"annotation_status": "ANNOTATION_SUCCESS", "annotation_user_id": "me"},
        version=writer.version,
    )
    assert {s.action for s in plan(SPEC, stored, set()).models} == {"keep"}
    # a thresholder made by PostModels whose version never came (a run cut short) gets one
    stored[writer.id] = replace(stored[writer.id], version=None)
    steps = {s.model.id: s for s in plan(SPEC, stored, set()).models}
    assert (steps[writer.id].action, steps[writer.id].reason) == ("update", "it has no version yet")


def test_the_workflow_pins_every_version() -> None:
    pinned = {m.node_id: f"{m.node_id}-v" for m in desired_models(SPEC) if m.node_id != "classify"}
    workflow = desired_workflow(SPEC, "clf-v", "ev1", pinned)
    versions = {n.id: n.model_version_id for n in workflow.nodes}
    assert versions == {"embed": "ev1", "classify": "clf-v", **pinned}


def test_plan_reports_an_id_held_by_another_type() -> None:
    stored = {"auto-annotate-classify": Model("auto-annotate-classify", model_type_id="x-y")}
    result = plan(SPEC, stored, set())
    assert result.conflicts and "auto-annotate-classify" in result.conflicts[0]
    assert any("CONFLICT" in line for line in result.describe())


def test_rerunning_on_an_app_built_with_a_local_embedder_moves_to_the_public_one() -> None:
    stored = models_of(SPEC)
    stored["auto-annotate-embed"] = Model("auto-annotate-embed", model_type_id="visual-embedder")
    result = plan(SPEC, stored, {SPEC.workflow_id})
    assert result.old_embedder == "auto-annotate-embed"
    text = "\n".join(result.describe())
    assert "use    model clarifai/main · general-image-embedding" in text
    assert "move   the embed node from auto-annotate-embed" in text


def test_ids_and_thresholds() -> None:
    assert id_problem("ok-id_1") is None
    assert id_problem("") is not None
    assert id_problem("has space") is not None
    assert id_problem("-lead") is not None
    assert "taken" in (id_problem("x", {"x"}) or "")
    assert threshold_problem("0") is None and threshold_problem("1") is None
    assert threshold_problem("0.5") is None
    for bad in ("1.01", "-0.1", "abc", "nan", ""):
        assert threshold_problem(bad) is not None, bad


TYPES = {
    "emb": VISUAL_EMBEDDER,
    "cls": EMBEDDING_CLASSIFIER,
    "thr": CONCEPT_THRESHOLDER,
    "wri": ANNOTATION_WRITER,
}
GRAPH = [
    WorkflowNode("embed", "emb"),
    WorkflowNode("classify", "cls", node_inputs=("embed",)),
    WorkflowNode("hi", "thr", node_inputs=("classify",)),
    WorkflowNode("band", "thr", node_inputs=("hi",)),
    WorkflowNode("write", "wri", node_inputs=("band",)),
]


def test_edges_that_make_a_cycle_or_mismatch_are_refused_with_the_reason() -> None:
    cycle = edge_problem(GRAPH, "hi", "band", TYPES)
    assert cycle is not None and cycle.startswith("refused: it would make a cycle")
    assert "hi" in cycle and "band" in cycle
    mismatch = edge_problem(GRAPH, "write", "embed", TYPES)
    assert mismatch is not None and "takes concepts" in mismatch and "gives embeddings" in mismatch
    assert "cycle" in (edge_problem(GRAPH, "hi", "hi", TYPES) or "")
    assert edge_problem(GRAPH, "write", "hi", TYPES) is None
    assert "already" in (edge_problem(GRAPH, "classify", "embed", TYPES) or "")
    two_embedders = [*GRAPH, WorkflowNode("embed2", "emb")]
    assert "exactly one" in (edge_problem(two_embedders, "classify", "embed2", TYPES) or "")


def test_workflow_problems_mirror_the_engine() -> None:
    assert workflow_problems(GRAPH, TYPES) == []
    assert workflow_problems([], TYPES) == ["a workflow needs at least one node"]
    cyclic = connect(GRAPH, "hi", "band")
    assert any(p.startswith("cycle") for p in workflow_problems(cyclic, TYPES))
    orphan = disconnect(GRAPH, "hi", "classify")
    assert any("no inputs" in p for p in workflow_problems(orphan, TYPES))
    assert any("does not exist" in p for p in workflow_problems([WorkflowNode("x", "?")], TYPES))
    fed_image = connect(GRAPH, "embed", "classify")
    assert workflow_problems(fed_image, TYPES)


def test_edits_keep_references_consistent() -> None:
    renamed = rename_node(GRAPH, "hi", "confident")
    assert [n.id for n in renamed][2] == "confident"
    assert renamed[3].node_inputs == ("confident",)
    deleted = delete_node(GRAPH, "classify")
    assert "classify" not in {n.id for n in deleted}
    assert next(n for n in deleted if n.id == "hi").node_inputs == ()
    assert find_cycle(to_graph(connect(GRAPH, "hi", "band"), {})) is not None


def test_graph_boxes_show_type_and_thresholds() -> None:
    models = models_of(SPEC)
    graph = {g.id: g for g in to_graph(desired_workflow(SPEC).nodes, models)}
    assert graph["confident"].lines == ["threshold", "> 0.90"]
    assert graph["unsure-band"].lines == ["threshold", "<= 0.90"]
    assert graph["write-pending"].lines == ["writer", "PENDING"]
    assert graph["classify"].inputs == ["embed"]
    mixed = Model(
        "t",
        model_type_id=CONCEPT_THRESHOLDER,
        concepts=(Concept("a", value=0.9), Concept("b", value=0.8)),
        params={"concept_threshold_type": "LESS_THAN"},
    )
    assert node_lines(mixed) == ["threshold", "a<0.90 b<0.80"]
    assert node_lines(None, "gone") == ["missing model gone"]


def test_dry_run_text_says_what_writers_would_write_and_that_nothing_was_written() -> None:
    models = models_of(SPEC)
    nodes = desired_workflow(SPEC, "", "ev1").nodes
    outputs = []
    for node in nodes:
        concepts: tuple[Concept, ...] = ()
        if node.id in ("classify",):
            concepts = (Concept("one", value=0.95), Concept("two", value=0.04))
        if node.id in ("confident", "write-success"):
            concepts = (Concept("one", value=0.95),)
        outputs.append(
            NodeOutput(
                node.id,
                node.model_id,
                "",
                10000,
                concepts=concepts,
                embedding_dims=(64,) if node.id == "embed" else (),
            )
        )
    result = WorkflowResult("in1", 10000, outputs=tuple(outputs))
    text = "\n".join(describe_results([result], nodes, models))
    assert NOTHING_WRITTEN in text
    assert "write-success (annotation-writer): WOULD write SUCCESS as me: one 0.95" in text
    assert "write-pending (annotation-writer): would write nothing" in text
    assert "confident (concept-thresholder) GREATER_THAN: passed one 0.95" in text
    assert "embedding (64 dims)" in text
    assert InputRef.existing("x").input_id == "x"


def test_a_dry_run_on_the_platform_promises_nothing_about_writers() -> None:
    from tui.widgets.dry_run_text import REMOTE_DRY_RUN

    remote = describe_results([], [], {}, embedded=False)
    assert NOTHING_WRITTEN not in remote and remote[0] == REMOTE_DRY_RUN
    assert describe_results([], [], {})[0] == NOTHING_WRITTEN


def test_a_node_added_in_the_editor_pins_its_model_version_and_owner() -> None:
    from api.models import ModelVersion
    from tui.widgets.workflow_graph import add_node

    local = Model("thr", model_type_id=CONCEPT_THRESHOLDER, version=ModelVersion("v7", 21100))
    [node] = add_node([], "t", "thr", model=local)
    assert (node.model_version_id, node.model_user_id, node.model_app_id) == ("v7", "", "")
    public = Model(
        PUBLIC_EMBEDDER_ID,
        model_type_id="visual-embedder",
        version=ModelVersion("ev", 21100),
        user_id="clarifai",
        app_id="main",
    )
    [embed] = add_node([], "e", PUBLIC_EMBEDDER_ID, model=public)
    assert (embed.model_version_id, embed.model_user_id, embed.model_app_id) == (
        "ev",
        "clarifai",
        "main",
    )


def test_dry_run_text_on_a_video_says_each_frame() -> None:
    """Issue #27: on a video each node answers per sampled frame (data.frames)."""
    from api.models import FrameInfo, FrameOutput

    models = models_of(SPEC)
    nodes = desired_workflow(SPEC, "", "ev1").nodes

    def frames(node_id: str) -> tuple[FrameOutput, ...]:
        out = []
        for k in range(25):
            concepts: tuple[Concept, ...] = ()
            if node_id == "write-success" and k == 1:
                concepts = (Concept("two", value=0.98),)
            dims = (64,) if node_id == "embed" else ()
            out.append(FrameOutput(FrameInfo(k, k * 1000), concepts, dims))
        return tuple(out)

    outputs = tuple(
        NodeOutput(node.id, node.model_id, "", 10000, frames=frames(node.id)) for node in nodes
    )
    lines = describe_results([WorkflowResult("clip", 10000, outputs=outputs)], nodes, models)
    text = "\n".join(lines)
    assert "write-success (annotation-writer): 25 sampled frames" in text
    assert "    0:01.0 WOULD write SUCCESS as me: two 0.98" in text
    assert "    0:00.0 embedding (64 dims)" in text
    assert "    ... 5 more frames" in text
