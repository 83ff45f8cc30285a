"""train_and_wait: every failure code the protos name ends the wait with its name, and polls
grow from a fraction of a second to a few seconds (no test waits for real)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from api.autoannotate import POLL_MAX, TrainingFailed, train_and_wait
from api.models import Concept, ModelVersion


class Trainer:
    """A client whose training goes through `codes`, one per poll."""

    def __init__(self, codes: Sequence[int]) -> None:
        self.codes = list(codes)
        self.trained_on: list[Concept] = []

    async def train_model(self, model_id: str, *, concepts: Sequence[Concept]) -> ModelVersion:
        self.trained_on = list(concepts)
        return ModelVersion("v1", self.codes.pop(0))

    async def get_model_version(self, model_id: str, version_id: str) -> ModelVersion:
        code = self.codes.pop(0)
        return ModelVersion(version_id, code, status_description=f"code {code}")


async def run(codes: Sequence[int]) -> tuple[Any, list[float], Trainer]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    trainer = Trainer(codes)
    result = await train_and_wait(
        trainer,  # type: ignore[arg-type]
        "clf",
        [Concept("cat")],
        sleep=sleep,
    )
    return result, waits, trainer


@pytest.mark.parametrize("code", [21105, 21106, 21108, 21109, 21110, 21111, *range(21112, 21120)])
async def test_every_failure_code_ends_the_wait_with_its_name(code: int) -> None:
    with pytest.raises(TrainingFailed) as info:
        await run([21103, 21101, code])
    assert f"({code})" in str(info.value) and "MODEL_" in str(info.value)


async def test_polls_grow_to_a_few_seconds_and_the_version_learns_the_concepts() -> None:
    version, waits, trainer = await run([21103] + [21101] * 8 + [21100])
    assert version.trained and trainer.trained_on == [Concept("cat")]
    assert waits[0] < 0.5 and waits[-1] == POLL_MAX
    assert waits == sorted(waits)
