"""One current app (issue #30): every area shows and acts on the app the session holds, and an
unknown app id is refused before it reaches the config."""

from __future__ import annotations

from pathlib import Path

from api.models import Concept
from screens.concepts import ConceptsScreen
from screens.explorer import ExplorerScreen
from screens.uploads import UploadsScreen
from tests.tui_helpers import connected, make_tui, wait_until
from tui.widgets.area import Breadcrumb


def crumb(screen: object) -> str:
    return str(screen.query_one(Breadcrumb).render())  # type: ignore[attr-defined]


async def test_a_switch_rebinds_areas_opened_before_it(tmp_path: Path) -> None:
    app = make_tui(tmp_path, app_id="park", area="uploads")
    async with app.run_test(size=(80, 24)) as pilot:
        client = await connected(pilot)
        await client.create_app("park")
        await client.create_app("digits")
        await client.with_app("digits").create_concepts([Concept(id="seven", name="seven")])
        uploads = app.screen
        assert isinstance(uploads, UploadsScreen)
        uploads.concepts = ("walker",)  # batch concepts set in park
        await pilot.press("2")
        await wait_until(pilot, lambda: isinstance(app.screen, ConceptsScreen))
        concepts = app.screen
        await pilot.press("5")
        await wait_until(pilot, lambda: isinstance(app.screen, ExplorerScreen))
        await app.run_action("run_command('app digits')")
        await wait_until(pilot, lambda: app.session.app_id == "digits", what="switch")
        assert "app: digits" in crumb(app.screen)
        await pilot.press("1")
        await wait_until(pilot, lambda: app.screen is uploads)
        await wait_until(pilot, lambda: "app: digits" in crumb(uploads), what="uploads header")
        assert uploads.concepts == ()  # per-app settings do not carry over
        await pilot.press("2")
        await wait_until(pilot, lambda: app.screen is concepts)
        assert isinstance(concepts, ConceptsScreen)
        await wait_until(pilot, lambda: "app: digits" in crumb(concepts), what="concepts header")
        await wait_until(
            pilot,
            lambda: [c.id for c in concepts.concepts] == ["seven"],
            what="digits' concepts",
        )


async def test_an_unknown_app_id_is_refused_before_it_is_saved(tmp_path: Path) -> None:
    app = make_tui(tmp_path, app_id="park", area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        client = await connected(pilot)
        await client.create_app("park")
        before = (tmp_path / "config.toml").read_text()
        await app.run_action("run_command('app nosuchapp')")
        await wait_until(
            pilot,
            lambda: any("nosuchapp" in n.message for n in app._notifications),
            what="the refusal",
        )
        assert app.session.app_id == "park"
        assert "app: park" in crumb(app.screen)
        assert (tmp_path / "config.toml").read_text() == before


async def test_sample_sets_how_often_the_current_apps_videos_are_sampled(tmp_path: Path) -> None:
    """Issue #27: `:sample MS` is PatchApps sample_ms on the current app, checked first."""
    app = make_tui(tmp_path, app_id="park", area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        client = await connected(pilot)
        await client.create_app("park")

        def said(words: str) -> bool:
            return any(words in n.message for n in app._notifications)

        await app.run_action("run_command('sample')")
        await wait_until(pilot, lambda: said("sampled every 1000 ms"), what="the default")
        await app.run_action("run_command('sample 50')")
        await wait_until(pilot, lambda: said("100 to 60000"), what="the refusal")
        assert (await client.get_app("park")).sample_ms == 0
        await app.run_action("run_command('sample 500')")
        await wait_until(pilot, lambda: said("sampled every 500 ms"), what="the change")
        assert (await client.get_app("park")).sample_ms == 500
