"""Every request body the adapter can send parses into its clarifai_grpc request message
(unknown fields are an error), and every query parameter names a field of the request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from clarifai_grpc.grpc.api import service_pb2
from google.protobuf import json_format

from api import wire
from api.client import ClarifaiClient
from api.models import (
    AnnotationFilter,
    AnnotationStatus,
    AnnotationUpdate,
    Concept,
    InputFilter,
    InputRef,
    InputUpdate,
    NewAnnotation,
    NewInput,
    Workflow,
    WorkflowNode,
)
from api.retry import RetryPolicy
from tests.client.conftest import Sleeps

WORKFLOW = Workflow(
    "wf",
    (
        WorkflowNode("embed", "emb", "ev"),
        WorkflowNode("classify", "clf", node_inputs=("embed",)),
        WorkflowNode("write", "writer", node_inputs=("classify",), suppress_output=True),
    ),
    description="auto-annotation",
)

SEARCH_FILTERS = (
    AnnotationFilter(
        status=AnnotationStatus.PENDING,
        concepts=(Concept("walker"), Concept("runner", value=0.0)),
        user_id="me",
        model_version_id="v1",
        input_id="i",
    ),
    AnnotationFilter(status=AnnotationStatus.REVIEW_DENIED, negate=True),
    InputFilter(status=30000, input_id="i"),
)

BODIES: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("PostAppsRequest", lambda: wire.post_apps_body("app", "App", "about")),
    ("PatchAppsRequest", lambda: wire.patch_apps_body("app", name="N", default_workflow_id="wf")),
    (
        "PostInputsRequest",
        lambda: wire.post_inputs_body(
            [
                NewInput(data=b"\x89PNG", concepts=(Concept("cat"),), metadata={"k": [1, "v"]}),
                NewInput(url="https://x.test/a.jpg", allow_duplicate_url=True),
            ]
        ),
    ),
    (
        "PatchInputsRequest",
        lambda: wire.patch_inputs_body(
            [InputUpdate("i", concepts=(Concept("cat", value=0.0),), metadata={"a": 1})], "merge"
        ),
    ),
    ("DeleteInputsRequest", lambda: wire.ids_body(["a", "b"])),
    ("PostConceptsRequest", lambda: wire.concepts_body([Concept("cat", name="Cat")])),
    (
        "PatchConceptsRequest",
        lambda: wire.patch_concepts_body([Concept("cat", "Kat")], "overwrite"),
    ),
    (
        "PostAnnotationsRequest",
        lambda: wire.post_annotations_body(
            [
                NewAnnotation(
                    "i",
                    (Concept("cat", value=1.0), Concept("dog", value=0.0)),
                    status_code=AnnotationStatus.PENDING,
                    user_id="me",
                    annotation_info={"source": "labeller"},
                )
            ]
        ),
    ),
    (
        "PatchAnnotationsRequest",
        lambda: wire.patch_annotations_body(
            [
                AnnotationUpdate("a", "i", status_code=AnnotationStatus.REVIEW_DENIED),
                AnnotationUpdate("b", "i", concepts=(Concept("cat"),), annotation_info={"r": 1}),
            ],
            "merge",
        ),
    ),
    ("DeleteAnnotationsRequest", lambda: wire.delete_annotations_body(["a"], ["i"])),
    (
        "PostModelsRequest",
        lambda: wire.post_models_body(
            "thr", model_type_id="concept-thresholder", name="T", description="d"
        ),
    ),
    (
        "PatchModelsRequest",
        lambda: wire.patch_models_body("clf", action="overwrite", name="C", description="d"),
    ),
    (
        "PostModelVersionsRequest",
        lambda: wire.post_model_versions_body(concepts=[Concept("cat")], with_values=False),
    ),
    (
        "PostModelVersionsRequest",
        lambda: wire.post_model_versions_body(
            concepts=[Concept("cat", "Cat")], description="v2", train_params={"epochs": 3}
        ),
    ),
    (
        "PostModelVersionsRequest",
        lambda: wire.post_model_versions_body(
            concepts=[Concept("cat", value=0.9)],
            params={"concept_threshold_type": 1, "annotation_status": 24150},
            concepts_mutually_exclusive=False,
        ),
    ),
    (
        "PostModelOutputsRequest",
        lambda: wire.predict_body(
            [InputRef.existing("i"), InputRef.from_bytes(b"x"), InputRef.from_url("https://x")]
        ),
    ),
    ("PostWorkflowsRequest", lambda: wire.post_workflows_body([WORKFLOW])),
    ("PatchWorkflowsRequest", lambda: wire.patch_workflows_body([WORKFLOW], "overwrite")),
    (
        "PostWorkflowResultsRequest",
        lambda: wire.post_workflow_results_body(
            [InputRef.existing("i"), InputRef.from_bytes(b"x")]
        ),
    ),
    ("PostInputsSearchesRequest", lambda: wire.search_body(SEARCH_FILTERS, 2, 50)),
    ("PostAnnotationsSearchesRequest", lambda: wire.search_body(SEARCH_FILTERS, 1, 10)),
]


@pytest.mark.parametrize(("message", "build"), BODIES, ids=[m for m, _ in BODIES])
def test_body_parses_into_request(message: str, build: Callable[[], dict[str, Any]]) -> None:
    body = json.loads(json.dumps(build()))  # what goes on the wire
    json_format.ParseDict(body, getattr(service_pb2, message)(), ignore_unknown_fields=False)


PARAMS: list[tuple[str, list[tuple[str, str]]]] = [
    ("ListAppsRequest", wire.page_params(1, 10)),
    ("ListInputsRequest", wire.list_inputs_params(1, 10, 30001, ["a", "b"])),
    (
        "ListAnnotationsRequest",
        wire.list_annotations_params(
            1,
            10,
            ids=["a"],
            input_ids=["i"],
            user_ids=["u"],
            model_version_ids=["m"],
            list_all_annotations=True,
        ),
    ),
    ("ListModelsRequest", wire.list_models_params(1, 10, "embedding-classifier")),
    ("ListConceptsRequest", wire.page_params(2, 5)),
    ("ListWorkflowsRequest", wire.page_params(2, 5)),
    ("ListModelVersionsRequest", wire.page_params(2, 5)),
]


@pytest.mark.parametrize(("message", "params"), PARAMS, ids=[m for m, _ in PARAMS])
def test_query_params_name_request_fields(message: str, params: list[tuple[str, str]]) -> None:
    """Each key is a field path grpc-gateway can set: no repeated message crossed (as
    `statuses.code` would), no message as a value."""
    from tests.client.platform_rules import query_problem

    descriptor = getattr(service_pb2, message).DESCRIPTOR
    problems = [p for name, _ in params if (p := query_problem(descriptor, name))]
    assert not problems


async def test_every_body_the_client_sends_parses(tmp_path: object) -> None:
    """Drive the client and parse what actually went out, by route."""
    from google.api import annotations_pb2

    routes: list[tuple[str, str, str]] = []
    service = service_pb2.DESCRIPTOR.services_by_name["V2"]
    for method in service.methods:
        rule = method.GetOptions().Extensions[annotations_pb2.http]
        kinds = [rule, *rule.additional_bindings]
        for binding in kinds:
            verb = binding.WhichOneof("pattern")
            if verb in ("post", "patch", "delete") and binding.body == "*":
                routes.append((verb.upper(), getattr(binding, verb), method.input_type.name))
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"status": {"code": 10000}})

    import re

    def match(method: str, path: str) -> str:
        for verb, template, message in routes:
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            if verb == method and re.match(pattern, path):
                return message
        raise AssertionError(f"no route for {method} {path}")

    client = ClarifaiClient(
        base_url="https://api.test",
        api_key="k",
        user_id="me",
        app_id="app1",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(sleep=Sleeps()),
    )
    async with client:
        await client.create_app("a", name="A")
        await client.set_default_workflow("wf")
        await client.post_inputs([NewInput(data=b"x", concepts=(Concept("c"),))])
        await client.patch_inputs([InputUpdate("i", metadata={"a": 1})])
        await client.delete_inputs(["i"])
        await client.create_concepts([Concept("c", "C")])
        await client.patch_concepts([Concept("c", "D")])
        await client.post_annotations([NewAnnotation("i", (Concept("c"),))])
        await client.patch_annotations([AnnotationUpdate("a", "i", status_code=24150)])
        await client.create_model("m", model_type_id="concept-thresholder")
        await client.create_model_version("m", concepts=[Concept("c", value=0.5)], params={"a": 1})
        await client.patch_model("m", name="M")
        await client.train_model("m", concepts=[Concept("cat")])
        await client.predict("m", [InputRef.existing("i")], version_id="v")
        await client.create_workflow(WORKFLOW)
        await client.patch_workflow(WORKFLOW)
        await client.post_workflow_results("wf", [InputRef.existing("i")], nodes=WORKFLOW.nodes)
    checked = 0
    for request in sent:
        if request.method in ("POST", "PATCH") or request.content:
            message = match(request.method, request.url.path)
            body = json.loads(request.content or b"{}")
            json_format.ParseDict(
                body, getattr(service_pb2, message)(), ignore_unknown_fields=False
            )
            checked += 1
    assert checked >= 16
