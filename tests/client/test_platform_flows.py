"""Labelling, the whole wizard and twenty review decisions on the remote profile's code path,
with every request checked against what the platform's REST gateway parses (issue #29).

The requests go to the embedded server (as strict as the platform, in-process), through a
transport that checks each one with tests/client/platform_rules.py first: its route must be
a V2 binding of the protos, its body must parse into the request message, and its query keys
must be field paths that cross no repeated message. The review queue's atomic claims call,
an extension of the embedded server, is answered 404 as the platform would: the queue then
uses its best-effort protocol, as it does on the platform.
"""

from __future__ import annotations

from pathlib import Path

from api.autoannotate import (
    WizardSpec,
    apply_models,
    apply_workflow,
    fetch_state,
    plan,
    train_and_wait,
)
from api.local.backend import LocalBackend
from api.models import AnnotationStatus, Concept, InputRef, NewAnnotation, NewInput
from api.review import CLAIM_PATH, ReviewQueue
from screens.labelling import Labeller
from tests.client.platform_rules import Recorder, checked_client, query_problem
from tests.screens.labelled_data import CONCEPTS, pick_digits

KEY = "platform-flows-key"


def test_the_rules_catch_what_the_gateway_refuses() -> None:
    from clarifai_grpc.grpc.api import service_pb2

    annotations = service_pb2.ListAnnotationsRequest.DESCRIPTOR
    assert query_problem(annotations, "statuses.code") is not None  # repeated message
    assert query_problem(annotations, "input_ids") is None
    assert query_problem(annotations, "user_app_id.app_id") is None
    assert query_problem(annotations, "user_app_id") is not None  # a message, not a scalar
    assert query_problem(annotations, "nosuchfield") is not None
    inputs = service_pb2.ListInputsRequest.DESCRIPTOR
    assert query_problem(inputs, "status.code") is None


async def test_labelling_wizard_and_twenty_reviews_send_only_what_the_platform_parses(
    tmp_path: Path,
) -> None:
    backend = LocalBackend(tmp_path / "data", api_key=KEY)
    await backend.start()
    recorder = Recorder(extensions=("/" + "/".join(CLAIM_PATH),))
    client = checked_client(backend, recorder, KEY)
    try:
        await client.create_app("flows")
        app = client.with_app("flows")
        concepts = [Concept(c, name=c) for c in CONCEPTS]
        await app.create_concepts(concepts)
        images = pick_digits(10)
        results = await app.post_inputs([NewInput(data=i.png) for i in images])
        assert all(r.ok for r in results)
        await backend.wait_idle(60)

        # labelling: 8 of each concept by keys' worth of saves, one undone
        labeller = Labeller(app, await client.get_user_id(), concepts)
        await labeller.load()
        truth = {r.id: image.concept for r, image in zip(results, images, strict=True)}
        labelled = [i for i in labeller.inputs if i.id in truth][:24]
        for item in labelled:
            assert await labeller.save(item.id, [truth[item.id]], False) is not None
        assert await labeller.undo() == labelled[-1].id
        assert [c.id for a in await labeller.labels_of(labelled[0].id) for c in a.concepts] == [
            truth[labelled[0].id]
        ]

        # the wizard: models, training, workflow, dry run, default
        spec = WizardSpec(concepts=CONCEPTS, annotation_user_id="auto")
        models, workflows = await fetch_state(app)
        the_plan = plan(spec, models, workflows)
        pinned = await apply_models(app, the_plan, lambda _: None)
        version = await train_and_wait(app, spec.model_id("classify"), concepts)
        workflow = await apply_workflow(app, the_plan, version.id, pinned)
        dry = await app.post_workflow_results(
            workflow.id, [InputRef.existing(i.id) for i in labelled[:3]], nodes=workflow.nodes
        )
        assert len(dry) == 3
        assert (await app.set_default_workflow(workflow.id)).default_workflow_id == workflow.id

        # twenty review decisions
        pending = [
            NewAnnotation(
                r.id,
                (Concept(truth[r.id], name=truth[r.id], value=0.6),),
                status_code=AnnotationStatus.PENDING,
                id=f"review-{n}",
            )
            for n, r in enumerate(results[:20])
        ]
        assert all(r.ok for r in await app.post_annotations(pending))
        queue = ReviewQueue(app, reviewer="reviewer-1")
        decided = 0
        while decided < 20:
            current = await queue.next()
            assert current is not None, f"the queue ran dry after {decided} decisions"
            await queue.decide(accept=decided % 3 != 0)
            decided += 1
        assert queue.atomic is False  # the platform has no claims call: best effort
    finally:
        await client.aclose()
        await backend.stop()
    assert not recorder.problems, "\n".join(recorder.problems)
    assert len(recorder.seen) > 60
    _assert_walkthrough_shape(recorder)


def _assert_walkthrough_shape(recorder: Recorder) -> None:
    """The workflow and writers have the shape of Clarifai's API auto-annotation walkthrough
    (issue #22): the first node is the public embedder named by id, version and owner, each
    later node takes an earlier one as its input, and each writer's version carries its
    status and annotation user in output_info.params."""
    posted = [b for where, b in recorder.bodies if where.endswith("/workflows") and "POST" in where]
    assert len(posted) == 1
    nodes = posted[0]["workflows"][0]["nodes"]
    first = nodes[0]["model"]
    assert (first["id"], first["user_id"], first["app_id"]) == (
        "general-image-embedding",
        "clarifai",
        "main",
    )
    assert first["model_version"]["id"]
    # every node pins a version (issue #32): the classifier's trained one, and the version
    # PostModelVersions made for each thresholder and writer
    assert all(n["model"]["model_version"]["id"] for n in nodes)
    seen = {nodes[0]["id"]}
    for node in nodes[1:]:
        inputs = [i["node_id"] for i in node["node_inputs"]]
        assert inputs and set(inputs) <= seen, (node["id"], inputs)
        seen.add(node["id"])
    # PostModels makes each model bare; its configuration is a version, made right after it
    created = [(where, b["model"]) for where, b in recorder.bodies if where.endswith("/models")]
    assert created and all("output_info" not in m and where.startswith("POST")
                           for where, m in created)  # fmt: skip
    assert not [w for w, _ in recorder.bodies if w.startswith("PATCH") and "/models" in w]
    versions = {
        where.split("/models/")[1].split("/")[0]: b["model_versions"][0]
        for where, b in recorder.bodies
        if where.startswith("POST") and where.endswith("/versions")
    }
    writers = [m["id"] for _, m in created if m["model_type_id"] == "annotation-writer"]
    params = [versions[w]["output_info"]["params"] for w in writers]
    assert sorted(p["annotation_status"] for p in params) == [24150, 24151]  # SUCCESS, PENDING
    assert {p["annotation_user_id"] for p in params} == {"auto"}
    pinned = {n["model"]["id"]: n["model"]["model_version"]["id"] for n in nodes}
    thresholders = [m["id"] for _, m in created if m["model_type_id"] == "concept-thresholder"]
    assert thresholders and all(versions[t]["output_info"]["data"]["concepts"]
                                for t in thresholders)  # fmt: skip
    assert set(writers + thresholders) <= set(pinned)
