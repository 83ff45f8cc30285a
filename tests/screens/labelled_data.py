"""Small labelled demo data for the models, workflows and wizard tests (digits, 3 concepts)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from api.autoannotate import WizardSpec, apply_models, apply_workflow, plan, train_and_wait
from api.client import ClarifaiClient
from api.demo import DemoImage, iter_digits
from api.models import Annotation, Concept, NewInput
from tests.tui_helpers import local_config

CONCEPTS = ("zero", "one", "two")
APP = "demo"


def pick_digits(per_concept: int, *, skip: int = 0) -> list[DemoImage]:
    """`per_concept` digits of each of CONCEPTS, after skipping the first `skip` of each."""
    seen = dict.fromkeys(CONCEPTS, 0)
    out = []
    for image in iter_digits(600):
        if image.concept not in seen:
            continue
        seen[image.concept] += 1
        if skip < seen[image.concept] <= skip + per_concept:
            out.append(image)
    return out


async def settle(pilot: Pilot[Any], client: ClarifaiClient, *, timeout: float = 60) -> None:
    """Wait (a deadline, not a timing assertion) until the app has processed every input."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (await client.get_input_count()).settled:
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the inputs to be processed")
        await pilot.pause(0.05)


async def upload(
    pilot: Pilot[Any], client: ClarifaiClient, images: Sequence[DemoImage], *, labelled: bool
) -> list[str]:
    items = [
        NewInput(data=i.png, concepts=(Concept(i.concept),) if labelled else ()) for i in images
    ]
    results = await client.post_inputs(items)
    assert all(r.ok for r in results), [r.reason for r in results if not r.ok]
    await settle(pilot, client)
    return [r.id for r in results]


async def labelled_app(
    pilot: Pilot[Any], client: ClarifaiClient, per_concept: int
) -> ClarifaiClient:
    """Create the app, its concepts and `per_concept` labelled digits of each concept."""
    await client.create_app(APP)
    app_client = client.with_app(APP)
    await app_client.create_concepts([Concept(c, name=c) for c in CONCEPTS])
    await upload(pilot, app_client, pick_digits(per_concept), labelled=True)
    return app_client


async def prepare(
    tmp_path: Path,
    *,
    per_concept: int = 0,
    spec: WizardSpec | None = None,
    train: bool = False,
) -> None:
    """Before the TUI starts: the app, labelled digits, the wizard's models and workflow."""
    from tui.connect import connect

    config = local_config(tmp_path, app_id=APP)
    connection = await connect(config.profile(), owner="test-setup")
    try:
        client = connection.client
        await client.create_app(APP)
        app_client = client.with_app(APP)
        await app_client.create_concepts([Concept(c, name=c) for c in CONCEPTS])
        if per_concept:
            items = [
                NewInput(data=i.png, concepts=(Concept(i.concept),))
                for i in pick_digits(per_concept)
            ]
            await app_client.post_inputs(items)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while not (await app_client.get_input_count()).settled:
                assert loop.time() < deadline, "inputs were not processed"
                await asyncio.sleep(0.05)
        if spec is not None:
            the_plan = plan(spec, {}, set())
            pinned = await apply_models(app_client, the_plan, lambda _: None)
            learns = [Concept(c, name=c) for c in spec.concepts]
            classifier = spec.model_id("classify")
            if train:
                version = await train_and_wait(app_client, classifier, learns, poll=0.05)
            else:  # a node pins a version: started, not waited for (it may well fail)
                version = await app_client.train_model(classifier, concepts=learns)
            await apply_workflow(app_client, the_plan, version.id, pinned)
    finally:
        await connection.aclose()


async def all_annotations(client: ClarifaiClient) -> list[Annotation]:
    return [a async for a in client.iter_annotations(list_all_annotations=True)]
