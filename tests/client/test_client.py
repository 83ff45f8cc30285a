"""Every client method against recorded Clarifai-shaped responses (respx, no network)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from api import wire
from api.client import ClarifaiClient
from api.models import (
    AnnotationStatus,
    AnnotationUpdate,
    Concept,
    InputRef,
    InputUpdate,
    NewAnnotation,
    NewInput,
    Workflow,
    WorkflowNode,
    content_input_id,
)
from tests.client.conftest import APP, ok

TS = "2024-05-01T10:20:30.123456789Z"
INPUT = {
    "id": "in1",
    "data": {
        "image": {"url": "https://api.test/blobs/in1"},
        "concepts": [{"id": "cat", "name": "cat", "value": 1}],
        "metadata": {"source": "x"},
    },
    "created_at": TS,
    "status": {"code": 30000, "description": "Download complete"},
}
ANNOTATION = {
    "id": "a1",
    "input_id": "in1",
    "data": {"concepts": [{"id": "cat", "name": "cat", "value": 0.93}]},
    "user_id": "me",
    "model_version_id": "mv1",
    "status": {"code": 24151, "description": "Annotation pending"},
    "created_at": TS,
}
MODEL = {
    "id": "clf",
    "name": "Classifier",
    "model_type_id": "embedding-classifier",
    "output_info": {
        "data": {"concepts": [{"id": "cat", "value": 0.8}]},
        "params": {"concept_threshold_type": "GREATER_THAN"},
    },
    "model_version": {
        "id": "v1",
        "status": {"code": 21100, "description": "Model is trained"},
        "total_input_count": 42,
        "train_info": {"params": {"epochs": 3}},
    },
}
WORKFLOW = {
    "id": "wf",
    "nodes": [
        {"id": "embed", "model": {"id": "emb", "model_version": {"id": "ev"}}},
        {"id": "classify", "model": {"id": "clf"}, "node_inputs": [{"node_id": "embed"}]},
    ],
}


def body_of(route: respx.Route) -> dict[str, object]:
    return json.loads(route.calls.last.request.content)  # type: ignore[no-any-return]


async def test_auth_header_and_user_agent(client: ClarifaiClient, router: respx.MockRouter) -> None:
    route = router.get("/v2/users/me/apps").mock(return_value=ok(apps=[{"id": "a", "name": "A"}]))
    apps = await client.list_apps()
    request = route.calls.last.request
    assert request.headers["authorization"] == "Key test-key"
    assert request.url.params["page"] == "1" and request.url.params["per_page"] == "128"
    assert [a.id for a in apps] == ["a"] and len(apps) == 1 and apps.page == 1


async def test_apps(client: ClarifaiClient, router: respx.MockRouter) -> None:
    router.get("/v2/users/me/apps/app1").mock(
        return_value=ok(
            app={"id": "app1", "name": "One", "default_workflow_id": "wf", "created_at": TS}
        )
    )
    app = await client.get_app()
    assert (app.name, app.default_workflow_id, app.created_at and app.created_at.year) == (
        "One",
        "wf",
        2024,
    )
    post = router.post("/v2/users/me/apps").mock(return_value=ok(apps=[{"id": "new", "name": "N"}]))
    assert (await client.create_app("new", name="N")).id == "new"
    universal = {"id": "Universal", "user_id": "clarifai", "app_id": "main"}
    assert body_of(post) == {"apps": [{"id": "new", "name": "N", "default_workflow": universal}]}
    await client.create_app("bare", base_workflow="Empty")
    assert body_of(post)["apps"][0]["default_workflow"]["id"] == "Empty"
    patch = router.patch("/v2/users/me/apps").mock(
        return_value=ok(apps=[{"id": "app1", "default_workflow_id": "wf2"}])
    )
    assert (await client.set_default_workflow("wf2")).default_workflow_id == "wf2"
    assert body_of(patch) == {
        "apps": [{"id": "app1", "default_workflow_id": "wf2"}],
        "action": "overwrite",
    }
    with pytest.raises(ValueError, match="cannot be cleared"):
        wire.patch_apps_body("app1", default_workflow_id="")


async def test_iter_apps_pages_until_short_page(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    route = router.get("/v2/users/me/apps").mock(
        side_effect=[ok(apps=[{"id": "a"}, {"id": "b"}]), ok(apps=[{"id": "c"}])]
    )
    assert [a.id async for a in client.iter_apps(per_page=2)] == ["a", "b", "c"]
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2"]


async def test_with_app_shares_connection(client: ClarifaiClient, router: respx.MockRouter) -> None:
    route = router.get("/v2/users/me/apps/other/inputs/status").mock(
        return_value=ok(counts={"processed": 5, "to_process": 1, "processing": 2})
    )
    counts = await client.with_app("other").get_input_count()
    assert (counts.processed, counts.to_process, counts.errors, counts.processing) == (5, 1, 0, 2)
    assert counts.total == 8 and not counts.settled and route.called
    with pytest.raises(ValueError, match="no app selected"):
        await ClarifaiClient(base_url="https://x", api_key="k", user_id="me").list_inputs()


async def test_post_inputs_batches_at_128_and_splits_mixed_status(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    items = [NewInput(data=f"img{i}".encode()) for i in range(130)]
    ids = [i.input_id for i in items]

    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["inputs"]
        out = []
        for raw in sent:
            code = {ids[1]: 30100, ids[2]: 30104}.get(raw["id"], 30001)
            out.append({"id": raw["id"], "status": {"code": code, "description": f"d{code}"}})
        mixed = any(o["status"]["code"] != 30001 for o in out)
        return ok(10010 if mixed else 10000, inputs=out)

    route = router.post(f"{APP}/inputs").mock(side_effect=answer)
    results = await client.post_inputs(items)
    assert route.call_count == 2
    assert [len(json.loads(c.request.content)["inputs"]) for c in route.calls] == [128, 2]
    assert [r.id for r in results] == ids
    assert results[0].outcome == "created" and results[0].item is not None
    assert results[1].outcome == "duplicate" and results[1].ok
    assert results[2].outcome == "failed" and "INPUT_INVALID_ARGUMENT" in results[2].reason
    sent0 = json.loads(route.calls[0].request.content)["inputs"][0]
    assert sent0["id"] == content_input_id(b"img0")
    assert sent0["data"]["image"]["base64"] == "aW1nMA=="


async def test_post_inputs_batch_without_keeping_inputs(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    """keep_inputs=False (the uploader's call) keeps every outcome and reason, no Input."""
    items = [NewInput(data=b"a"), NewInput(data=b"b"), NewInput(data=b"c")]
    codes = dict(zip([i.input_id for i in items], [30001, 30100, 30104], strict=True))
    answer = [
        {
            "id": i,
            "status": {"code": c, "description": f"d{c}"},
            "created_at": "2026-01-01T00:00:00Z",
        }
        for i, c in codes.items()
    ]
    router.post(f"{APP}/inputs").mock(return_value=ok(10010, inputs=answer))
    kept = await client.post_inputs_batch(items)
    lean = await client.post_inputs_batch(items, keep_inputs=False)
    assert kept[0].item is not None and kept[0].item.id == items[0].input_id
    assert [r.item for r in lean] == [None, None, None]
    assert [(r.id, r.outcome, r.status_code, r.reason) for r in lean] == [
        (r.id, r.outcome, r.status_code, r.reason) for r in kept
    ]
    assert [r.outcome for r in lean] == ["created", "duplicate", "failed"]
    assert "d30104" in lean[2].reason


async def test_post_inputs_whole_batch_failure_with_items(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    router.post(f"{APP}/inputs").mock(
        return_value=httpx.Response(
            400,
            json={
                "status": {"code": 10020, "description": "Failure"},
                "inputs": [{"id": "u1", "status": {"code": 30100, "description": "dup"}}],
            },
        )
    )
    [result] = await client.post_inputs([NewInput(url="https://x.test/a.jpg", id="u1")])
    assert result.outcome == "duplicate"


async def test_inputs_list_get_patch_delete(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    lst = router.get(f"{APP}/inputs").mock(return_value=ok(inputs=[INPUT]))
    page = await client.list_inputs(page=2, per_page=10, status=30001, ids=["in1", "in2"])
    params = lst.calls.last.request.url.params
    assert params["status.code"] == "30001" and params.get_list("ids") == ["in1", "in2"]
    inp = page[0]
    assert (inp.url, inp.status_code, inp.metadata, inp.concepts[0].id) == (
        "https://api.test/blobs/in1",
        30000,
        {"source": "x"},
        "cat",
    )
    assert inp.created_at is not None and inp.created_at.microsecond == 123456
    assert [i.id async for i in client.iter_inputs(per_page=5)] == ["in1"]
    router.get(f"{APP}/inputs/in1").mock(return_value=ok(input=INPUT))
    assert (await client.get_input("in1")).id == "in1"
    patch = router.patch(f"{APP}/inputs").mock(return_value=ok(inputs=[INPUT]))
    await client.patch_inputs([InputUpdate("in1", metadata={"k": 1})])
    assert body_of(patch) == {
        "inputs": [{"id": "in1", "data": {"metadata": {"k": 1}}}],
        "action": "merge",
    }
    delete = router.delete(f"{APP}/inputs").mock(return_value=ok())
    await client.delete_inputs([f"i{n}" for n in range(200)])
    assert delete.call_count == 2 and len(body_of(delete)["ids"]) == 72  # type: ignore[arg-type]


async def test_fetch_image_same_origin_with_key_foreign_without(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    own = router.get("/blobs/in1").mock(return_value=httpx.Response(200, content=b"PNGDATA"))
    data = await client.fetch_image(await_input())
    assert data == b"PNGDATA" and own.calls.last.request.headers["authorization"] == "Key test-key"
    with respx.mock(assert_all_called=True) as outside:
        foreign = outside.get("https://cdn.other.test/x.png").mock(
            return_value=httpx.Response(200, content=b"X")
        )
        assert await client.fetch_image("https://cdn.other.test/x.png") == b"X"
        assert "authorization" not in foreign.calls.last.request.headers


def await_input():  # type: ignore[no-untyped-def]
    from api.wire import input_from

    return input_from(INPUT)


async def test_concepts(client: ClarifaiClient, router: respx.MockRouter) -> None:
    router.get(f"{APP}/concepts").mock(return_value=ok(concepts=[{"id": "cat", "name": "Cat"}]))
    assert [c.name for c in await client.list_concepts()] == ["Cat"]
    assert [c.id async for c in client.iter_concepts()] == ["cat"]
    router.get(f"{APP}/concepts/cat").mock(return_value=ok(concept={"id": "cat", "name": "Cat"}))
    assert (await client.get_concept("cat")).name == "Cat"
    post = router.post(f"{APP}/concepts").mock(return_value=ok(concepts=[{"id": "dog"}]))
    await client.create_concepts([Concept("dog", name="Dog")])
    assert body_of(post) == {"concepts": [{"id": "dog", "name": "Dog"}]}
    patch = router.patch(f"{APP}/concepts").mock(
        return_value=ok(concepts=[{"id": "dog", "name": "D"}])
    )
    assert (await client.patch_concepts([Concept("dog", name="D")]))[0].name == "D"
    assert body_of(patch)["action"] == "overwrite"


async def test_annotations(client: ClarifaiClient, router: respx.MockRouter) -> None:
    lst = router.get(f"{APP}/annotations").mock(return_value=ok(annotations=[ANNOTATION]))
    page = await client.list_annotations(
        input_ids=["in1"],
        user_ids=["me"],
        model_version_ids=["mv1"],
        list_all_annotations=True,
    )
    params = lst.calls.last.request.url.params
    assert "statuses.code" not in params and params["list_all_annotations"] == "true"
    assert params["input_ids"] == "in1" and params["model_version_ids"] == "mv1"
    ann = page[0]
    assert (ann.status_code, ann.model_version_id, ann.concepts[0].value) == (24151, "mv1", 0.93)
    assert [a.id async for a in client.iter_annotations(user_ids=["me"])] == ["a1"]
    with pytest.raises(ValueError, match="matching input_ids"):
        await client.list_annotations(ids=["a1"])

    post = router.post(f"{APP}/annotations").mock(
        return_value=ok(
            10010,
            annotations=[
                {**ANNOTATION, "id": "n1", "status": {"code": 24150}},
                {"id": "n2", "status": {"code": 24155, "description": "bad concept"}},
            ],
        )
    )
    results = await client.post_annotations(
        [
            NewAnnotation("in1", (Concept("cat"),), id="n1"),
            NewAnnotation("in2", (Concept("nope", value=0.0),), id="n2"),
        ]
    )
    assert [r.outcome for r in results] == ["created", "failed"]
    assert "bad concept" in results[1].reason
    sent = body_of(post)["annotations"][1]  # type: ignore[index]
    assert sent == {
        "id": "n2",
        "input_id": "in2",
        "data": {"concepts": [{"id": "nope", "value": 0.0}]},
        "status": {"code": 24150},
    }
    assert len(NewAnnotation("x", ()).id) == 32

    patch = router.patch(f"{APP}/annotations").mock(
        return_value=ok(annotations=[{**ANNOTATION, "status": {"code": 24158}}])
    )
    [denied] = await client.set_annotation_status([ann], AnnotationStatus.REVIEW_DENIED)
    assert denied.status_code == 24158
    assert body_of(patch) == {
        "annotations": [{"id": "a1", "input_id": "in1", "status": {"code": 24158}}],
        "action": "merge",
    }
    await client.patch_annotations(
        [AnnotationUpdate("a1", "in1", concepts=(Concept("cat", value=1.0),))], action="overwrite"
    )
    delete = router.delete(f"{APP}/inputs/in1/annotations/a1").mock(return_value=ok())
    await client.delete_annotation("in1", "a1")
    assert delete.called


async def test_models_and_versions(client: ClarifaiClient, router: respx.MockRouter) -> None:
    lst = router.get(f"{APP}/models").mock(return_value=ok(models=[MODEL]))
    [model] = await client.list_models(model_type_id="embedding-classifier")
    assert lst.calls.last.request.url.params["model_type_id"] == "embedding-classifier"
    assert (
        model.version is not None
        and model.version.trained
        and model.version.total_input_count == 42
    )
    assert model.params == {"concept_threshold_type": "GREATER_THAN"}
    assert model.version.train_params == {"epochs": 3}
    assert [m.id async for m in client.iter_models()] == ["clf"]
    router.get(f"{APP}/models/clf").mock(return_value=ok(model=MODEL))
    assert (await client.get_model("clf")).concepts[0].value == 0.8
    post = router.post(f"{APP}/models").mock(return_value=ok(model=MODEL))
    # the platform's way (issue #32): PostModels makes the model only, its configuration is
    # a version (PostModelVersions), whose answer carries the new version
    await client.create_model("thr", model_type_id="concept-thresholder")
    assert body_of(post) == {"model": {"id": "thr", "model_type_id": "concept-thresholder"}}
    ready = {**MODEL, "id": "thr", "model_version": {"id": "t1", "status": {"code": 21100}}}
    version = router.post(f"{APP}/models/thr/versions").mock(return_value=ok(model=ready))
    made = await client.create_model_version(
        "thr", concepts=[Concept("cat", value=0.0)], params={"concept_threshold_type": 1}
    )
    assert made.version is not None and made.version.id == "t1" and made.version.trained
    assert body_of(version) == {
        "model_versions": [
            {
                "output_info": {
                    "data": {"concepts": [{"id": "cat", "value": 0.0}]},
                    "params": {"concept_threshold_type": 1},
                }
            }
        ]
    }
    router.patch(f"{APP}/models").mock(return_value=ok(models=[MODEL]))
    assert (await client.patch_model("clf", name="C")).id == "clf"
    router.delete(f"{APP}/models/clf").mock(return_value=ok())
    await client.delete_model("clf")
    router.get(f"{APP}/models/types").mock(
        return_value=ok(
            model_types=[
                {
                    "id": "concept-thresholder",
                    "title": "Thresholder",
                    "input_fields": ["concepts"],
                    "model_type_fields": [
                        {
                            "path": "output_info.params.concept_threshold_type",
                            "field_type": "ENUM",
                            "model_type_enum_options": [{"id": "GREATER_THAN"}],
                        }
                    ],
                }
            ]
        )
    )
    [mtype] = await client.list_model_types()
    assert mtype.fields[0].enum_options == ("GREATER_THAN",)
    train = router.post(f"{APP}/models/clf/versions").mock(
        return_value=ok(model={**MODEL, "model_version": {"id": "v2", "status": {"code": 21103}}})
    )
    version = await client.train_model("clf", concepts=[Concept("cat")])
    assert (version.id, version.status_code, version.settled) == ("v2", 21103, False)
    assert body_of(train) == {
        "model_versions": [{"output_info": {"data": {"concepts": [{"id": "cat"}]}}}]
    }
    router.get(f"{APP}/models/clf/versions/v2").mock(
        return_value=ok(
            model_version={"id": "v2", "status": {"code": 21106, "description": "no data"}}
        )
    )
    failed = await client.get_model_version("clf", "v2")
    assert failed.settled and not failed.trained and failed.status_description == "no data"
    router.get(f"{APP}/models/clf/versions").mock(return_value=ok(model_versions=[{"id": "v1"}]))
    assert [v.id for v in await client.list_model_versions("clf")] == ["v1"]


async def test_predict(client: ClarifaiClient, router: respx.MockRouter) -> None:
    route = router.post(f"{APP}/models/emb/versions/ev/outputs").mock(
        return_value=ok(
            outputs=[
                {
                    "input": {"id": "in1"},
                    "status": {"code": 10000},
                    "data": {"embeddings": [{"vector": [0.1, 0.2, 0.3], "num_dimensions": 3}]},
                }
            ]
        )
    )
    [pred] = await client.predict("emb", [InputRef.existing("in1")], version_id="ev")
    assert pred.embedding_dims == (3,) and pred.embeddings[0] == (0.1, 0.2, 0.3)
    assert body_of(route) == {"inputs": [{"id": "in1"}]}
    router.post(f"{APP}/models/clf/outputs").mock(
        return_value=ok(
            outputs=[{"input": {"id": "x"}, "data": {"concepts": [{"id": "cat", "value": 0.7}]}}]
        )
    )
    [pred] = await client.predict("clf", [InputRef.from_url("https://x.test/a.jpg")])
    assert pred.concepts[0].value == 0.7


async def test_workflows(client: ClarifaiClient, router: respx.MockRouter) -> None:
    router.get(f"{APP}/workflows").mock(return_value=ok(workflows=[WORKFLOW]))
    [wf] = await client.list_workflows()
    assert wf.nodes[1].node_inputs == ("embed",) and wf.nodes[0].model_version_id == "ev"
    assert [w.id async for w in client.iter_workflows()] == ["wf"]
    router.get(f"{APP}/workflows/wf").mock(return_value=ok(workflow=WORKFLOW))
    assert await client.get_workflow("wf") == wf
    post = router.post(f"{APP}/workflows").mock(return_value=ok(workflows=[WORKFLOW]))
    created = await client.create_workflow(wf)
    assert created == wf and body_of(post) == {"workflows": [WORKFLOW]}
    patch = router.patch(f"{APP}/workflows").mock(return_value=ok(workflows=[WORKFLOW]))
    await client.patch_workflow(Workflow("wf", (WorkflowNode("embed", "emb"),)))
    assert body_of(patch)["action"] == "overwrite"
    router.delete(f"{APP}/workflows/wf").mock(return_value=ok())
    await client.delete_workflow("wf")


async def test_post_workflow_results_tags_node_ids(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    result = {
        "input": {"id": "in1"},
        "status": {"code": 10000},
        "outputs": [
            {
                "model": {"id": "emb"},
                "status": {"code": 10000},
                "data": {"embeddings": [{"vector": [0.0] * 4, "num_dimensions": 4}]},
            },
            {
                "model": {"id": "clf", "model_version": {"id": "v1"}},
                "status": {"code": 10000},
                "data": {"concepts": [{"id": "cat", "value": 0.9}]},
            },
        ],
    }
    route = router.post(f"{APP}/workflows/wf/results").mock(return_value=ok(results=[result]))
    get = router.get(f"{APP}/workflows/wf").mock(return_value=ok(workflow=WORKFLOW))
    [res] = await client.post_workflow_results(
        "wf", [InputRef.existing("in1"), InputRef.from_bytes(b"abc")]
    )
    assert body_of(route) == {"inputs": [{"id": "in1"}, {"data": {"image": {"base64": "YWJj"}}}]}
    assert get.called and [o.node_id for o in res.outputs] == ["embed", "classify"]
    classify = res.output("classify")
    assert classify is not None and classify.concepts[0].value == 0.9
    assert res.outputs[0].embedding_dims == (4,)
    router.post(f"{APP}/workflows/wf/results").mock(
        return_value=ok(results=[result], workflow=WORKFLOW)
    )
    get.reset()
    await client.post_workflow_results("wf", [InputRef.existing("in1")])
    assert not get.called


async def test_post_workflow_results_goes_in_calls_of_32(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    # The platform takes at most 32 inputs per PostWorkflowResults (the SDK's
    # MAX_WORKFLOW_PREDICT_INPUTS): 70 inputs are three calls, results in input order.
    def answer(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        assert len(inputs) <= 32
        results = [
            {"input": {"id": i["id"]}, "status": {"code": 10000}, "outputs": []} for i in inputs
        ]
        return ok(results=results, workflow=WORKFLOW)

    route = router.post(f"{APP}/workflows/wf/results").mock(side_effect=answer)
    ids = [f"in{n}" for n in range(70)]
    results = await client.post_workflow_results("wf", [InputRef.existing(i) for i in ids])
    assert [len(json.loads(c.request.content)["inputs"]) for c in route.calls] == [32, 32, 6]
    assert [r.input_id for r in results] == ids
