"""The wizard's whole request sequence on the remote profile, against models and versions as
the platform documents them (tests/client/platform_models.py), not as the embedded server
happens to answer (issue #32)."""

from __future__ import annotations

from api.autoannotate import (
    CONCEPT_THRESHOLDER,
    WizardSpec,
    apply_models,
    apply_workflow,
    fetch_state,
    plan,
    train_and_wait,
)
from api.client import ClarifaiClient
from api.models import Concept, Workflow
from api.retry import RetryPolicy
from tests.client.conftest import Sleeps
from tests.client.platform_models import PUBLIC_EMBEDDER_VERSION, PlatformModels

CONCEPTS = ("walker", "runner", "stroller")


async def run_wizard(client: ClarifaiClient, spec: WizardSpec) -> tuple[list[str], Workflow]:
    models, workflows = await fetch_state(client)
    the_plan = plan(spec, models, workflows)
    pinned = await apply_models(client, the_plan, lambda _: None)
    version = await train_and_wait(
        client,
        spec.model_id("classify"),
        [Concept(c) for c in spec.concepts],
        sleep=lambda _: _no_wait(),
    )
    workflow = await apply_workflow(client, the_plan, version.id, pinned)
    return [step.describe() for step in the_plan.models], workflow


def platform_client(fake: PlatformModels) -> ClarifaiClient:
    """The remote profile's client, talking to the documented platform of `fake`."""
    return ClarifaiClient(
        base_url="https://api.clarifai.test",
        api_key="k",
        user_id="me",
        app_id="app1",
        transport=fake.transport(),
        retry=RetryPolicy(sleep=Sleeps()),
    )


async def _no_wait() -> None:
    return None


async def test_the_wizard_gives_every_node_a_version_on_the_documented_platform() -> None:
    fake = PlatformModels()
    client = platform_client(fake)
    spec = WizardSpec(concepts=CONCEPTS, annotation_user_id="auto", high=0.9, low=0.2)
    try:
        described, workflow = await run_wizard(client, spec)
        # every model the wizard made has exactly one version, made by PostModelVersions
        assert {m.id: len(m.versions) for m in fake.models.values()} == {
            m.id: 1 for m in fake.models.values()
        }
        assert not [c for c in fake.calls if c.startswith("PATCH") and "/models" in c]
        assert not fake.ignored_patches
        # the classifier trained on exactly the chosen concepts
        classifier = fake.models[spec.model_id("classify")]
        assert fake.trained_on[classifier.versions[0].id] == list(CONCEPTS)
        # every node pins a version its model has (the embedder: the public one)
        stored = fake.workflows[workflow.id]["nodes"]
        for node in stored:
            pinned = node["model"]["model_version"]["id"]
            if node["model"].get("user_id") == "clarifai":
                assert pinned == PUBLIC_EMBEDDER_VERSION
            else:
                assert pinned == fake.models[node["model"]["id"]].versions[0].id, node
        # the thresholders' versions carry the thresholds the spec asked for
        kinds = {m.id: m.model_type_id for m in fake.models.values()}
        thresholders = [m for m, kind in kinds.items() if kind == CONCEPT_THRESHOLDER]
        values = {
            m: {
                round(c["value"], 2)
                for c in fake.models[m].versions[0].output_info["data"]["concepts"]
            }
            for m in thresholders
        }
        assert values[spec.model_id("confident")] == {0.9}
        assert {0.2} in values.values(), values
        assert all("first version" in line for line in described if "thresholder" in line)

        # A changed high threshold: the next run makes a new version of the two thresholders
        # that use it only (the confident one and the review band's upper bound), and the
        # workflow moves their nodes to them; the writers' nodes keep theirs. (The wizard
        # trains the classifier again on every run, as the TUI's does.)
        before = {n["id"]: n["model"]["model_version"]["id"] for n in stored}
        described, workflow = await run_wizard(
            client, WizardSpec(concepts=CONCEPTS, annotation_user_id="auto", high=0.95, low=0.2)
        )
        changed = {line.split()[2] for line in described if "a new version" in line}
        assert changed == {spec.model_id("confident"), spec.model_id("unsure-band")}, described
        confident = fake.models[spec.model_id("confident")]
        assert len(confident.versions) == 2
        assert {c["value"] for c in confident.versions[0].output_info["data"]["concepts"]} == {0.95}
        after = {
            n["id"]: n["model"]["model_version"]["id"] for n in fake.workflows[workflow.id]["nodes"]
        }
        assert after["confident"] == confident.versions[0].id != before["confident"]
        moved = {k for k in after if after[k] != before[k]}
        assert moved == {"confident", "unsure-band", "classify"}
        info = await client.get_model_output_info(confident.id)
        assert {c.value for c in info.concepts} == {0.95}
    finally:
        await client.aclose()


async def test_patch_models_is_never_how_settings_change() -> None:
    """The fake ignores version fields in PatchModels as the platform does; the adapter's
    patch_model sends name and description only."""
    fake = PlatformModels()
    client = platform_client(fake)
    try:
        await client.create_model("band", model_type_id=CONCEPT_THRESHOLDER)
        assert fake.models["band"].versions == []
        await client.patch_model("band", name="Review band", description="unsure ones")
        assert fake.models["band"].name == "Review band"
        assert fake.ignored_patches == []
        request = next(c for c in fake.calls if c.startswith("PATCH"))
        assert request.endswith("/models")
    finally:
        await client.aclose()
