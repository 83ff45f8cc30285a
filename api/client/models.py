"""Models and their versions (list, get with configuration, create, patch, new versions,
training, delete) and prediction (PostModelOutputs).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from api import wire
from api.client.core import BATCH_SIZE, DEFAULT_PER_PAGE, ClientCore, PatchAction
from api.models import Concept, InputRef, Model, ModelType, ModelVersion, Page, Prediction


class ModelCalls(ClientCore):
    """The calls on an app's models, their versions and predictions."""

    async def list_models(
        self,
        *,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
        model_type_id: str | None = None,
    ) -> Page[Model]:
        return await self._list(
            self._app_path("models"),
            "models",
            wire.model_from,
            page=page,
            per_page=per_page,
            params=wire.list_models_params(page, per_page, model_type_id),
        )

    def iter_models(
        self, *, per_page: int = DEFAULT_PER_PAGE, model_type_id: str | None = None
    ) -> AsyncIterator[Model]:
        return self._iterate(
            lambda p, n: self.list_models(page=p, per_page=n, model_type_id=model_type_id),
            per_page,
        )

    async def get_model(self, model_id: str) -> Model:
        """GetModel. On the platform its answer carries no configuration (concepts,
        thresholds, writer params): read that with `get_model_output_info`."""
        body = await self._call("GET", self._app_path("models", model_id))
        return wire.model_from(wire.single(body, "model"))

    async def get_model_output_info(self, model_id: str, version_id: str | None = None) -> Model:
        """GetModelOutputInfo: the model with its configuration (of `version_id`, or the
        latest version)."""
        parts = ["models", model_id]
        if version_id:
            parts += ["versions", version_id]
        body = await self._call("GET", self._app_path(*parts, "output_info"))
        return wire.model_from(wire.single(body, "model"))

    async def list_models_with_config(self, *, model_type_id: str | None = None) -> list[Model]:
        """Every model of the app, each with its configuration: ListModels, then one
        GetModelOutputInfo per model (a few at a time), since ListModels answers carry none."""
        models = [m async for m in self.iter_models(model_type_id=model_type_id)]
        gate = asyncio.Semaphore(8)

        async def configured(model: Model) -> Model:
            async with gate:
                return await self.get_model_output_info(model.id)

        return list(await asyncio.gather(*(configured(m) for m in models)))

    async def create_model(
        self, model_id: str, *, model_type_id: str, name: str = "", description: str = ""
    ) -> Model:
        """PostModels: the model and no version (as on the platform since 2023). Give it its
        configuration with `create_model_version`."""
        body = await self._call(
            "POST",
            self._app_path("models"),
            json=wire.post_models_body(
                model_id, model_type_id=model_type_id, name=name, description=description
            ),
        )
        return wire.model_from(wire.single(body, "model"))

    async def patch_model(
        self,
        model_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        action: PatchAction = "overwrite",
    ) -> Model:
        """PatchModels: model-level fields (name, description) only; on the platform it
        changes nothing in a version, so a configuration change is `create_model_version`."""
        body = await self._call(
            "PATCH",
            self._app_path("models"),
            json=wire.patch_models_body(
                model_id, action=action, name=name, description=description
            ),
        )
        models = wire.items(body, "models")
        return wire.model_from(models[0]) if models else await self.get_model(model_id)

    async def create_model_version(
        self,
        model_id: str,
        *,
        concepts: Sequence[Concept] | None = None,
        params: Mapping[str, Any] | None = None,
        concepts_mutually_exclusive: bool | None = None,
        description: str = "",
        train_params: Mapping[str, Any] | None = None,
        with_values: bool = True,
    ) -> Model:
        """PostModelVersions: a new version carrying the configuration (`concepts` with their
        values, the thresholds of a concept-thresholder; `params`). A thresholder's or
        writer's version is ready at once; a classifier's trains (poll `get_model_version`).
        The answer is the model, its new version in `version`.

        Never retried after the request may have reached the server (a retry would make a
        second version, or start a second training).
        """
        body = await self._call(
            "POST",
            self._app_path("models", model_id, "versions"),
            json=wire.post_model_versions_body(
                concepts=concepts,
                params=params,
                concepts_mutually_exclusive=concepts_mutually_exclusive,
                description=description,
                train_params=train_params,
                with_values=with_values,
            ),
            idempotent=False,
        )
        model = wire.model_from(wire.single(body, "model"))
        if model.version is None:
            version = wire.model_version_from(wire.single(body, "model_version"))
            model = replace(model, version=version)
        return model

    async def delete_model(self, model_id: str) -> None:
        await self._call("DELETE", self._app_path("models", model_id))

    async def list_model_types(self) -> list[ModelType]:
        body = await self._call("GET", self._app_path("models", "types"))
        return [wire.model_type_from(t) for t in wire.items(body, "model_types")]

    async def train_model(
        self,
        model_id: str,
        *,
        concepts: Sequence[Concept],
        description: str = "",
        train_params: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """PostModelVersions of a classifier: start training a new version on `concepts`
        (the version's output_info.data.concepts, as the docs and the SDK send them); poll
        `get_model_version`."""
        model = await self.create_model_version(
            model_id,
            concepts=concepts,
            description=description,
            train_params=train_params,
            with_values=False,
        )
        assert model.version is not None  # create_model_version fills it
        return model.version

    async def get_model_version(self, model_id: str, version_id: str) -> ModelVersion:
        body = await self._call("GET", self._app_path("models", model_id, "versions", version_id))
        return wire.model_version_from(wire.single(body, "model_version"))

    async def list_model_versions(
        self, model_id: str, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE
    ) -> Page[ModelVersion]:
        return await self._list(
            self._app_path("models", model_id, "versions"),
            "model_versions",
            wire.model_version_from,
            page=page,
            per_page=per_page,
        )

    async def versions_with_config(self, model_id: str, *, limit: int = 5) -> list[ModelVersion]:
        """The newest `limit` versions of a model, newest first, each with its configuration
        (concepts and params). A version listed without one (the platform may answer
        ListModelVersions without ``output_info``) is completed by its GetModelOutputInfo."""
        listed = list(await self.list_model_versions(model_id, per_page=limit))

        async def configured(version: ModelVersion) -> ModelVersion:
            if version.concepts or version.params:
                return version
            return await self.version_with_config(model_id, version.id)

        return list(await asyncio.gather(*(configured(v) for v in listed[:limit])))

    async def version_with_config(self, model_id: str, version_id: str) -> ModelVersion:
        """One version with its configuration (concepts, params): GetModelOutputInfo of it."""
        model = await self.get_model_output_info(model_id, version_id)
        version = model.version if model.version is not None else ModelVersion(version_id)
        return replace(version, concepts=model.concepts, params=model.params)

    async def predict(
        self, model_id: str, inputs: Sequence[InputRef], *, version_id: str | None = None
    ) -> list[Prediction]:
        """PostModelOutputs: one Prediction per input (each with its own status)."""
        parts = ["models", model_id]
        if version_id:
            parts += ["versions", version_id]
        out: list[Prediction] = []
        for start in range(0, len(inputs), BATCH_SIZE):
            body = await self._call(
                "POST",
                self._app_path(*parts, "outputs"),
                json=wire.predict_body(inputs[start : start + BATCH_SIZE]),
                batch_key="outputs",
            )
            out.extend(wire.prediction_from(o) for o in wire.items(body, "outputs"))
        return out
