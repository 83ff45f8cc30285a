"""Issue #25 item 5: names from a server reach the terminal only through the sanitiser. A
concept named with an OSC sequence and a right-to-left override (stored behind the server's
own validation, as a hostile remote server could send it) is shown, in every area, the
input detail and a notification, with those characters made visible."""

from __future__ import annotations

from pathlib import Path

from api.local.rows import ConceptValue
from api.local.rows import NewAnnotation as StoredAnnotation
from screens.input_detail import InputDetailScreen
from tests.screens.labelled_data import APP, prepare
from tests.screens.test_workflows import SPEC
from tests.tui_helpers import connected, make_tui, wait_until

EVIL = "ev\x1b]0;pwned\x07il\u202eX"


def leaks(svg: str) -> list[str]:
    return [
        name for name, char in (("ESC", "\x1b"), ("BEL", "\x07"), ("RLO", "\u202e")) if char in svg
    ]


async def test_a_hostile_concept_name_is_shown_harmless_everywhere(tmp_path: Path) -> None:
    await prepare(tmp_path, per_concept=1, spec=SPEC)
    app = make_tui(tmp_path, app_id=APP, area="concepts")
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot)
        assert app.connection is not None and app.connection.backend is not None
        backend = app.connection.backend
        row = backend.store.get_app(backend.user_id, APP)
        assert row is not None
        backend.store.add_concepts(row.pk, [ConceptValue("hostile", EVIL, 1.0)])
        first = next(iter(await app.session.app_client().list_inputs()))
        backend.store.add_annotations(
            row.pk,
            [
                StoredAnnotation(
                    id="hostile-annotation",
                    input_id=first.id,
                    user_id=backend.user_id,
                    concepts=[ConceptValue("hostile", EVIL, 0.9)],
                    status_code=24151,
                )
            ],
        )
        for key in "123456":
            await pilot.press(key)
            await pilot.pause()
            await pilot.press("r")
            await pilot.pause(0.5)
            assert leaks(app.export_screenshot()) == [], app.current_mode
        await pilot.press("2")
        await wait_until(pilot, lambda: app.current_mode == "concepts")
        shown = app.export_screenshot()
        assert "\\x1b" in shown and "\\u202e" in shown  # visible, not swallowed
        await pilot.press("5")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, InputDetailScreen))
        await pilot.pause(0.5)
        assert leaks(app.export_screenshot()) == [], "input detail"
        app.notify(f"the server said: {EVIL}", title=EVIL)
        await pilot.pause()
        assert leaks(app.export_screenshot()) == [], "notification"
