"""Models, versions and workflows as Clarifai documents them (issue #32), as an httpx mock
transport: a second opinion on the adapter that owes nothing to the embedded server.

What it does, from the docs ("Updates to Model and Model Version Endpoints", January 2023;
Create/Train/Update a model; workflow nodes):
- PostModels makes a model and **no** version; ListModels and GetModel answer without the
  configuration (``output_info`` only says where to read it: GetModelOutputInfo).
- PostModelVersions makes a version of any type with the ``output_info`` it carries: a
  thresholder's or writer's is ready at once (21100); a classifier's is queued (21103),
  training (21101) on the next look and trained (21100) on the one after, on exactly the
  version's ``output_info.data.concepts``.
- GetModelOutputInfo answers the latest version's configuration (or a given version's).
- PatchModels changes name and description; version fields are **silently ignored** (the
  platform's documented behaviour, which is why the adapter must never rely on them).
- A workflow node pins a version of its model; a node naming a version the model does not
  have is refused. The public ``clarifai/main`` embedder is readable by everyone.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

APP = "/v2/users/me/apps/app1"
PUBLIC = "/v2/users/clarifai/apps/main"
PUBLIC_EMBEDDER = "general-image-embedding"
PUBLIC_EMBEDDER_VERSION = "embedder-v1"
TRAINABLE = {"embedding-classifier"}


def _status(code: int, description: str) -> dict[str, Any]:
    return {"code": code, "description": description}


def ok(**payload: Any) -> httpx.Response:
    return httpx.Response(200, json={"status": _status(10000, "Ok"), **payload})


def refused(http: int, code: int, description: str) -> httpx.Response:
    return httpx.Response(http, json={"status": _status(code, description)})


@dataclass
class Version:
    id: str
    output_info: dict[str, Any]
    trainable: bool
    looks: int = 0

    @property
    def code(self) -> int:
        if not self.trainable:
            return 21100
        return (21103, 21101, 21100)[min(self.looks, 2)]

    def json(self, *, with_config: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": _status(self.code, "")}
        if with_config:
            out["output_info"] = self.output_info
        return out


@dataclass
class StoredModel:
    id: str
    model_type_id: str
    name: str = ""
    versions: list[Version] = field(default_factory=list)  # newest first

    def json(self, *, with_config: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name or self.id,
            "model_type_id": self.model_type_id,
            "app_id": "app1",
            "user_id": "me",
        }
        if with_config:
            out["output_info"] = self.versions[0].output_info if self.versions else {}
        else:
            out["output_info"] = {
                "message": f"Show output_info with: GET /models/{self.id}/output_info"
            }
        if self.versions:
            out["model_version"] = self.versions[0].json(with_config=with_config)
        return out


@dataclass
class PlatformModels:
    models: dict[str, StoredModel] = field(default_factory=dict)
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    ignored_patches: list[dict[str, Any]] = field(default_factory=list)
    trained_on: dict[str, list[str]] = field(default_factory=dict)  # version id -> concepts
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, verb = request.url.path, request.method
        self.calls.append(f"{verb} {path}")
        body = json.loads(request.content) if request.content else {}
        if path.startswith(PUBLIC + "/models/" + PUBLIC_EMBEDDER):
            embedder = {
                "id": PUBLIC_EMBEDDER,
                "model_type_id": "visual-embedder",
                "app_id": "main",
                "user_id": "clarifai",
                "model_version": {"id": PUBLIC_EMBEDDER_VERSION, "status": _status(21100, "")},
                "output_info": {},
            }
            return ok(model=embedder)
        if not path.startswith(APP):
            return refused(404, 11101, f"no such resource {path}")
        parts = path[len(APP) :].strip("/").split("/")
        if parts[0] == "models":
            return self._models(verb, parts[1:], body, request)
        if parts[0] == "workflows":
            return self._workflows(verb, parts[1:], body)
        return refused(404, 11101, f"not modelled here: {verb} {path}")

    # -- models ------------------------------------------------------------------------------
    def _models(
        self, verb: str, rest: list[str], body: dict[str, Any], request: httpx.Request
    ) -> httpx.Response:
        if not rest:
            if verb == "GET":
                page = int(request.url.params.get("page", "1"))
                per_page = int(request.url.params.get("per_page", "128"))
                listed = list(self.models.values())[(page - 1) * per_page : page * per_page]
                return ok(models=[m.json(with_config=False) for m in listed])
            if verb == "POST":
                (sent,) = body["models"] if "models" in body else [body["model"]]
                if sent["id"] in self.models:
                    return refused(400, 21202, f"model {sent['id']} already exists")
                model = StoredModel(sent["id"], sent["model_type_id"], sent.get("name", ""))
                self.models[model.id] = model
                return ok(model=model.json(with_config=False))
            if verb == "PATCH":
                changed = []
                for sent in body["models"]:
                    model = self.models[sent["id"]]
                    model.name = sent.get("name", model.name)
                    ignored = {
                        k: v for k, v in sent.items() if k not in {"id", "name", "description"}
                    }
                    if ignored:
                        self.ignored_patches.append(ignored)
                    changed.append(model.json(with_config=False))
                return ok(models=changed)
        model = self.models.get(rest[0])
        if model is None:
            return refused(404, 21200, f"model {rest[0]} does not exist")
        tail = rest[1:]
        if tail == [] and verb == "GET":
            return ok(model=model.json(with_config=False))
        if tail == ["output_info"]:
            return ok(model=model.json(with_config=True))
        if tail == ["versions"] and verb == "POST":
            (sent,) = body["model_versions"]
            info = dict(sent.get("output_info", {}))
            version = Version(
                f"{model.id}-v{next(self._ids)}", info, model.model_type_id in TRAINABLE
            )
            if version.trainable:
                self.trained_on[version.id] = [c["id"] for c in info["data"]["concepts"]]
            model.versions.insert(0, version)
            answer = model.json(with_config=False)
            answer["model_version"] = version.json()
            return ok(model=answer)
        if tail == ["versions"] and verb == "GET":
            return ok(model_versions=[v.json() for v in model.versions])
        if len(tail) >= 2 and tail[0] == "versions":
            version = next((v for v in model.versions if v.id == tail[1]), None)
            if version is None:
                return refused(404, 21201, f"model {model.id} has no version {tail[1]}")
            if tail[2:] == ["output_info"]:
                answer = model.json(with_config=False)
                answer["output_info"] = version.output_info
                answer["model_version"] = version.json()
                return ok(model=answer)
            version.looks += 1
            return ok(model_version=version.json())
        return refused(404, 11101, f"not modelled here: {verb} models/{'/'.join(rest)}")

    # -- workflows ---------------------------------------------------------------------------
    def _workflows(self, verb: str, rest: list[str], body: dict[str, Any]) -> httpx.Response:
        if rest and verb == "GET":
            found = self.workflows.get(rest[0])
            if found is None:
                return refused(404, 11101, f"workflow {rest[0]} does not exist")
            return ok(workflow=found)
        if verb == "GET":
            return ok(workflows=list(self.workflows.values()))
        for workflow in body["workflows"]:
            for node in workflow["nodes"]:
                problem = self._node_problem(node)
                if problem:
                    return refused(400, 22104, problem)
            if verb == "POST" and workflow["id"] in self.workflows:
                return refused(400, 11102, f"workflow {workflow['id']} already exists")
            self.workflows[workflow["id"]] = {**workflow, "app_id": "app1"}
        return ok(workflows=[self.workflows[w["id"]] for w in body["workflows"]])

    def _node_problem(self, node: dict[str, Any]) -> str:
        model = node["model"]
        pinned = model.get("model_version", {}).get("id", "")
        if model.get("user_id") == "clarifai":
            return "" if pinned in ("", PUBLIC_EMBEDDER_VERSION) else f"no version {pinned}"
        stored = self.models.get(model["id"])
        if stored is None:
            return f"node {node['id']}: model {model['id']} does not exist"
        if pinned and pinned not in {v.id for v in stored.versions}:
            return f"node {node['id']}: model {model['id']} has no version {pinned}"
        return ""
