"""Half-block image preview: pixels to cells, image modes, and the widget's messages."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.preview import (
    BACKGROUND,
    LOWER_HALF,
    UPPER_HALF,
    ImagePreview,
    decode_image,
    half_block_lines,
)

Rgb = tuple[int, int, int]
CONSOLE = Console(color_system="truecolor", width=200)
RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


def cells(line: Text) -> list[tuple[str, Rgb | None, Rgb | None]]:
    """(character, foreground, background) of every cell of a rendered line."""
    out: list[tuple[str, Rgb | None, Rgb | None]] = []
    for index, char in enumerate(line.plain):
        style = line.get_style_at_offset(CONSOLE, index)
        fg = style.color.get_truecolor() if style.color else None
        bg = style.bgcolor.get_truecolor() if style.bgcolor else None
        out.append(
            (
                char,
                (fg.red, fg.green, fg.blue) if fg else None,
                (bg.red, bg.green, bg.blue) if bg else None,
            )
        )
    return out


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def quad() -> Image.Image:
    image = Image.new("RGB", (2, 2))
    image.putpixel((0, 0), RED)
    image.putpixel((1, 0), GREEN)
    image.putpixel((0, 1), BLUE)
    image.putpixel((1, 1), WHITE)
    return image


def test_each_cell_is_upper_pixel_over_lower_pixel() -> None:
    [line] = half_block_lines(quad(), 2, 1)
    assert cells(line) == [(UPPER_HALF, RED, BLUE), (UPPER_HALF, GREEN, WHITE)]


def test_pixel_art_scales_by_a_whole_factor_with_nearest() -> None:
    lines = half_block_lines(quad(), 8, 4)  # 2x2 -> 8x8 pixels: 4 cells a pixel across
    assert len(lines) == 4 and all(len(line.plain) == 8 for line in lines)
    top = cells(lines[0])
    assert top[:4] == [(UPPER_HALF, RED, RED)] * 4
    assert top[4:] == [(UPPER_HALF, GREEN, GREEN)] * 4
    assert cells(lines[3])[0] == (UPPER_HALF, BLUE, BLUE)


def test_digit_sized_image_keeps_sharp_pixels() -> None:
    checker = Image.new("L", (8, 8))
    checker.putdata([255 * ((x + y) % 2) for y in range(8) for x in range(8)])
    lines = half_block_lines(checker, 80, 24)  # fits 80x48 px -> scale 6 -> 48x48
    colours = {c for line in lines for _, fg, bg in cells(line) for c in (fg, bg) if c}
    assert colours == {BLACK, WHITE}
    row = [fg for char, fg, _ in cells(lines[0]) if char != " "]
    assert len(row) == 48 and row[:6] == [BLACK] * 6 and row[6:12] == [WHITE] * 6


def test_wide_image_is_fitted_and_centred_vertically() -> None:
    lines = half_block_lines(Image.new("RGB", (200, 100), RED), 40, 20)
    assert len(lines) == 20 and all(len(line.plain) == 40 for line in lines)
    filled = [i for i, line in enumerate(lines) if line.plain.strip()]
    assert filled == list(range(5, 15))  # 40x20 pixels = 10 rows, centred in 20
    assert set(cells(lines[7])) == {(UPPER_HALF, RED, RED)}


def test_tall_image_is_fitted_and_centred_horizontally() -> None:
    lines = half_block_lines(Image.new("RGB", (100, 1000), GREEN), 40, 20)
    columns = {i for line in lines for i, char in enumerate(line.plain) if char != " "}
    assert columns == {18, 19, 20, 21}  # 4x40 pixels


def test_odd_pixel_height_uses_a_lower_half_block() -> None:
    lines = half_block_lines(Image.new("RGB", (3, 1), BLUE), 3, 2)  # 3x1 px in 3x4: row 1
    assert cells(lines[0]) == [(LOWER_HALF, BLUE, None)] * 3
    assert lines[1].plain == "   "
    [line] = half_block_lines(Image.new("RGB", (3, 1), BLUE), 3, 1)  # 3x1 px in 3x2: row 0
    assert cells(line) == [(UPPER_HALF, BLUE, None)] * 3


def test_rgba_is_composited_on_neutral_grey() -> None:
    image = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    image.putpixel((1, 0), (255, 0, 0, 255))
    image.putpixel((1, 1), (255, 0, 0, 128))
    [line] = half_block_lines(image, 2, 1)
    (_, fg0, bg0), (_, fg1, bg1) = cells(line)
    assert fg0 == bg0 == BACKGROUND
    assert fg1 == RED
    assert bg1 is not None and bg1[0] > 180 and 50 < bg1[1] < 80


def test_palette_grey_cmyk_and_16_bit_modes() -> None:
    palette = quad().convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    assert cells(half_block_lines(palette, 2, 1)[0])[0] == (UPPER_HALF, RED, BLUE)
    grey = Image.new("L", (1, 2), 200)
    assert cells(half_block_lines(grey, 1, 1)[0]) == [(UPPER_HALF, (200,) * 3, (200,) * 3)]
    cmyk = Image.new("CMYK", (1, 2), (0, 255, 255, 0))
    assert cells(half_block_lines(cmyk, 1, 1)[0])[0][1] == RED
    deep = Image.new("I;16", (1, 2))
    deep.putpixel((0, 0), 1000)
    deep.putpixel((0, 1), 60000)
    assert cells(half_block_lines(deep, 1, 1)[0]) == [(UPPER_HALF, BLACK, WHITE)]


def test_gif_shows_its_first_frame() -> None:
    frames = [Image.new("RGB", (4, 4), RED), Image.new("RGB", (4, 4), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    image, message = decode_image(data)
    assert message is None and image is not None
    assert {fg for _, fg, _ in cells(half_block_lines(image, 4, 2)[0])} == {RED}


def test_decode_explains_what_is_wrong() -> None:
    assert decode_image(b"")[1] == "cannot preview: empty file"
    message = decode_image(b"hello, I am text")[1] or ""
    assert message.startswith("cannot preview: not an image (")
    data = encode(Image.effect_noise((64, 64), 40).convert("RGB"), "JPEG")
    message = decode_image(data[: len(data) // 2])[1] or ""
    assert message.startswith("cannot preview: truncated")


def test_importing_the_module_does_not_import_pillow() -> None:
    code = "import sys, tui.widgets.preview; sys.exit('PIL' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0


class PreviewApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ImagePreview()


async def settle(app: App[None]) -> None:
    await app.workers.wait_for_complete()
    await app.workers.wait_for_complete()


async def test_widget_renders_messages_and_images() -> None:
    app = PreviewApp()
    async with app.run_test(size=(30, 10)) as pilot:
        preview = app.query_one(ImagePreview)
        assert preview.message == "no image"

        preview.set_image(encode(Image.new("RGB", (30, 20), GREEN)), label="inp-1")
        await settle(app)
        await pilot.pause()
        assert preview.message is None and preview.label == "inp-1"
        assert len(preview.lines) == 9  # one row kept for the label
        assert {fg for line in preview.lines for c, fg, _ in cells(line) if c != " "} == {GREEN}

        preview.set_image(b"\x00garbage")
        await settle(app)
        await pilot.pause()
        assert (preview.message or "").startswith("cannot preview: not an image")
        assert preview.lines == []

        data = encode(Image.effect_noise((64, 64), 40).convert("RGB"), "JPEG")
        preview.set_image(data[:300])
        await settle(app)
        await pilot.pause()
        assert "truncated" in (preview.message or "")

        preview.set_image(None)
        assert preview.message == "no image"


async def test_widget_rerenders_on_resize() -> None:
    app = PreviewApp()
    async with app.run_test(size=(20, 6)) as pilot:
        preview = app.query_one(ImagePreview)
        preview.set_image(encode(Image.new("RGB", (8, 8), BLUE)))
        await settle(app)
        await pilot.pause()
        assert len(preview.lines) == 6
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        await settle(app)
        await pilot.pause()
        assert len(preview.lines) == 12 and len(preview.lines[0].plain) == 40


async def test_every_row_of_the_image_reaches_the_screen() -> None:
    """What is drawn, not only what is computed: a Group of Texts once showed only row 1."""
    app = PreviewApp()
    async with app.run_test(size=(20, 6)) as pilot:
        preview = app.query_one(ImagePreview)
        preview.set_image(encode(Image.new("RGB", (8, 8), BLUE)))
        await settle(app)
        await pilot.pause()
        drawn = [
            "".join(segment.text for segment in preview.render_line(y))
            for y in range(preview.size.height)
        ]
        assert all("▀" in row for row in drawn), drawn


def test_the_label_goes_through_the_sanitiser() -> None:
    """A label often carries a server's or a decoder's words (issue #25's one sanitiser)."""
    preview = ImagePreview()
    preview.set_image(None, label="no preview: \x1b]0;owned\x07bad\nname\x1b[2J")
    assert "\x1b" not in preview.label and "\x07" not in preview.label
    assert "\n" not in preview.label and preview.label.startswith("no preview: ")
