"""Model names for annotations' version ids (issue #26), kept per app for the session: read
once, read again only when a version it does not know is asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

from api.client import ClarifaiClient
from api.explore import ModelNames
from api.models import Model, ModelVersion


@dataclass
class Models:
    """ListModels and ListModelVersions, counted."""

    versions: dict[str, list[str]] = field(default_factory=dict)
    listings: int = 0

    async def iter_models(self) -> AsyncIterator[Model]:
        self.listings += 1
        for model_id in self.versions:
            yield Model(model_id, name=f"{model_id} model")

    async def list_model_versions(self, model_id: str, **_: Any) -> list[ModelVersion]:
        return [ModelVersion(v) for v in self.versions[model_id]]


async def test_names_are_read_once_and_again_only_for_an_unknown_version() -> None:
    fake = Models({"classify": ["v1"], "writer": ["w1"]})
    client = cast(ClarifaiClient, fake)
    names = ModelNames()
    assert await names.for_versions(client, ["v1"]) == {
        "v1": "classify model",
        "w1": "writer model",
    }
    assert await names.for_versions(client, ["w1", "v1", ""]) and fake.listings == 1
    fake.versions["classify"].append("v2")  # trained since
    assert (await names.for_versions(client, ["v2"]))["v2"] == "classify model"
    assert fake.listings == 2
    # a version no model has (deleted): asked again each time, as the screens need the truth
    await names.for_versions(client, ["gone"])
    assert fake.listings == 3
