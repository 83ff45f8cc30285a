"""Real images where the terminal can: the decision, the start-up replies, and the fallback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from textual.app import App, ComposeResult

from tests.widgets.test_preview import GREEN, encode, settle
from tui.widgets import graphics
from tui.widgets.graphics import Graphics, Replies, choose_renderer, parse_replies
from tui.widgets.preview import ImagePreview, fit_cells

ROOT = Path(__file__).resolve().parents[2]
BOTH = ("tgp", "sixel")
XTERM = {"TERM": "xterm-256color"}


@pytest.mark.parametrize(
    ("setting", "env", "interactive", "supported", "expected"),
    [
        ("auto", XTERM, True, (), "halfblock"),  # a plain terminal: nothing announced
        ("auto", XTERM, True, ("tgp",), "tgp"),  # kitty
        ("auto", XTERM, True, ("sixel",), "sixel"),
        ("auto", XTERM, True, BOTH, "sixel"),  # WezTerm, Konsole: Sixel is the one that works
        ("halfblock", XTERM, True, BOTH, "halfblock"),
        ("auto", XTERM, False, BOTH, "halfblock"),  # headless, piped, tests
        ("tgp", XTERM, False, BOTH, "halfblock"),
        ("auto", {**XTERM, "NO_COLOR": "1"}, True, BOTH, "halfblock"),
        ("sixel", {**XTERM, "NO_COLOR": "1"}, True, BOTH, "halfblock"),
        ("auto", {**XTERM, "NO_COLOR": ""}, True, BOTH, "sixel"),  # empty means unset
        ("auto", {"TERM": "dumb"}, True, BOTH, "halfblock"),
        ("tgp", {"TERM": "dumb"}, True, BOTH, "halfblock"),
        ("auto", {**XTERM, "TMUX": "/tmp/tmux-1/default,1,0"}, True, BOTH, "halfblock"),
        ("tgp", {**XTERM, "TMUX": "/tmp/tmux-1/default,1,0"}, True, (), "tgp"),  # passthrough
        ("sixel", XTERM, True, (), "sixel"),  # forced: used without being announced
        ("auto", {}, True, ("tgp",), "tgp"),
    ],
)
def test_choose_renderer(
    setting: str,
    env: dict[str, str],
    interactive: bool,
    supported: tuple[str, ...],
    expected: str,
) -> None:
    assert choose_renderer(setting, env, interactive=interactive, supported=supported) == expected


def test_parse_replies() -> None:
    kitty = b"\x1b_Gi=31;OK\x1b\\\x1b[6;20;10t\x1b[?62;22;52c"
    assert parse_replies(kitty) == Replies(frozenset({"tgp"}), (10, 20), complete=True)
    xterm_sixel = b"\x1b[?63;1;2;4;6;9;15;22c"
    assert parse_replies(xterm_sixel) == Replies(frozenset({"sixel"}), None, complete=True)
    refused = b"\x1b_Gi=31;ENOTSUPPORTED:no\x1b\\\x1b[?1;2c"
    assert parse_replies(refused) == Replies(frozenset(), None, complete=True)
    assert parse_replies(b"") == Replies()
    assert parse_replies(b"\x1b[6;0;0t") == Replies()  # a zero cell size is no size


def test_detect_asks_nothing_when_half_block_is_certain(monkeypatch: pytest.MonkeyPatch) -> None:
    def probe(timeout: float = 0) -> Replies:
        raise AssertionError("the terminal must not be asked")

    monkeypatch.setattr(graphics, "_current", Graphics())
    monkeypatch.setattr(graphics, "probe_terminal", probe)
    monkeypatch.setattr(graphics, "_interactive", lambda: True)
    for setting, env in [
        ("halfblock", XTERM),
        ("auto", {**XTERM, "TMUX": "x"}),
        ("auto", {**XTERM, "NO_COLOR": "1"}),
        ("auto", {"TERM": "dumb"}),
    ]:
        assert graphics.detect_at_start(setting, env) == Graphics()
    monkeypatch.setattr(graphics, "_interactive", lambda: False)  # pytest's own stdout
    assert graphics.detect_at_start("sixel", XTERM) == Graphics()
    assert graphics.current() == Graphics()


def test_detect_uses_the_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graphics, "_current", Graphics())
    monkeypatch.setattr(graphics, "_interactive", lambda: True)
    monkeypatch.setattr(graphics, "probe_terminal", lambda: Replies(frozenset({"tgp"}), (8, 17)))
    assert graphics.detect_at_start("auto", XTERM) == Graphics("tgp", (8, 17))
    assert graphics.current() == Graphics("tgp", (8, 17))
    monkeypatch.setattr(graphics, "probe_terminal", lambda: Replies(complete=True))
    assert graphics.detect_at_start("auto", XTERM) == Graphics("halfblock", (10, 20))


def test_fit_cells_keeps_the_aspect_ratio_in_pixels() -> None:
    from textual.geometry import Size

    assert fit_cells((100, 100), Size(40, 10), (10, 20)) == (20, 10)  # 200x200 px
    assert fit_cells((400, 100), Size(40, 10), (10, 20)) == (40, 5)


def test_textual_image_missing_means_half_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "textual_image", None)  # import raises ImportError
    monkeypatch.setattr(graphics, "_loaded", {})
    assert graphics.image_widget(Graphics("tgp")) is None
    assert graphics.image_widget(Graphics("halfblock")) is None


def test_textual_image_is_imported_without_asking_the_terminal() -> None:
    """Its import-time queries would race Textual for the replies: they must not run."""
    code = (
        "import io, sys\n"
        "class Tty(io.StringIO):\n"
        "    def isatty(self): return True\n"
        "tty = Tty()\n"
        "sys.__stdout__ = sys.__stdin__ = tty\n"
        "from tui.widgets import graphics\n"
        "cls = graphics.image_widget(graphics.Graphics('tgp', (9, 18)))\n"
        "from textual_image._terminal import get_cell_size\n"
        "assert cls is not None and cls.__name__ == 'TGPImage', cls\n"
        "assert tuple(get_cell_size()) == (9, 18)\n"
        "assert tty.getvalue() == '', repr(tty.getvalue())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_tui_start_does_not_import_textual_image() -> None:
    code = (
        "import sys, tui.app, tui.cli, tui.widgets.preview\n"
        "sys.exit('textual_image' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0


class PreviewApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ImagePreview()


async def test_headless_previews_are_half_block_whatever_was_detected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(graphics, "_current", Graphics("tgp"))
    app = PreviewApp()
    async with app.run_test(size=(30, 10)) as pilot:
        preview = app.query_one(ImagePreview)
        preview.set_image(encode(Image.new("RGB", (30, 20), GREEN)))
        await settle(app)
        await pilot.pause()
        assert preview.renderer == "halfblock"
        assert len(preview.lines) == 10
        assert not preview.children


async def test_a_missing_textual_image_falls_back_to_half_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "textual_image", None)
    monkeypatch.setattr(graphics, "_loaded", {})
    monkeypatch.setattr(ImagePreview, "_graphics", lambda self: Graphics("sixel"))
    app = PreviewApp()
    async with app.run_test(size=(30, 10)) as pilot:
        preview = app.query_one(ImagePreview)
        preview.set_image(encode(Image.new("RGB", (30, 20), GREEN)), label="x")
        await settle(app)
        await pilot.pause()
        assert preview.message is None and preview.renderer == "halfblock"
        assert len(preview.lines) == 9
        assert not preview.children


async def test_sixel_preview_shows_a_textual_image_widget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImagePreview, "_graphics", lambda self: Graphics("sixel", (10, 20)))
    app = PreviewApp()
    async with app.run_test(size=(40, 11)) as pilot:
        preview = app.query_one(ImagePreview)
        preview.set_image(encode(Image.new("RGB", (200, 100), GREEN)), label="inp-1")
        await settle(app)
        await pilot.pause()
        assert preview.renderer == "sixel" and preview.lines == []
        [picture] = preview.children
        assert type(picture).__name__ == "Image" and picture.display
        assert picture.size == (40, 10)  # 400x200 px: the whole pane above the label
        preview.set_image(b"\x00garbage")
        await settle(app)
        await pilot.pause()
        assert (preview.message or "").startswith("cannot preview")
        assert not picture.display and preview.renderer == "halfblock"


async def test_image_preview_false_turns_previews_off(tmp_path: Path) -> None:
    from tui.config import load_config

    path = tmp_path / "config.toml"
    path.write_text("[ui]\nimage_preview = false\n")

    class ConfiguredApp(PreviewApp):
        config = load_config(path)

    app = ConfiguredApp()
    async with app.run_test(size=(30, 10)) as pilot:
        preview = app.query_one(ImagePreview)
        preview.set_image(encode(Image.new("RGB", (30, 20), GREEN)))
        await settle(app)
        await pilot.pause()
        assert preview.message == "preview off (ui.image_preview = false)"
        assert preview.lines == [] and not preview.children
