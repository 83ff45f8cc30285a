"""Image preview: real images where the terminal can show them, half-block characters elsewhere.

Where the terminal announced Sixel or the Kitty graphics protocol at start (see
`tui.widgets.graphics`), the decoded image is handed to a textual-image widget. Everywhere
else (plain SSH terminals, tmux, NO_COLOR, `ui.image_protocol = "halfblock"`, tests) it is
drawn with half blocks, which works over SSH, in an 80x24 terminal, with no graphics protocol.

Each terminal cell shows two pixels stacked: the character "▀" with the upper pixel as its
foreground colour and the lower pixel as its background colour (truecolor). A cell is about
twice as tall as it is wide, so those two pixels are about square.

Pillow is imported lazily (inside the functions that need it), so importing this module, and
painting the first screen, costs nothing; decoding runs in a thread worker, off the event loop.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from tui.widgets import graphics
from tui.widgets.text import safe

if TYPE_CHECKING:
    from PIL import Image
    from rich.console import RenderableType

UPPER_HALF: Final = "▀"
LOWER_HALF: Final = "▄"
BACKGROUND: Final = (128, 128, 128)
"""Neutral grey that transparent pixels are composited on."""
PIXEL_ART_MAX: Final = 64
"""Images at most this many pixels on their long side are upscaled with NEAREST."""
KEEP_MAX: Final = 512
"""Decoded images are kept at most this large (long side) for re-rendering on resize."""
GRAPHICS_KEEP_MAX: Final = 1600
"""The same for a graphics protocol, which shows real pixels (a 200-column pane is ~1600)."""

Pixel = tuple[int, int, int]


def fit_size(src: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest size with `src`'s aspect ratio that fits inside `box` (at least 1x1).

    Small images (pixel art, such as the 8x8 digits) scale by a whole factor, so that every
    source pixel becomes the same number of cells.
    """
    src_w, src_h = max(1, src[0]), max(1, src[1])
    box_w, box_h = max(1, box[0]), max(1, box[1])
    scale = min(box_w / src_w, box_h / src_h)
    if scale >= 2 and max(src_w, src_h) <= PIXEL_ART_MAX:
        scale = float(int(scale))
    return max(1, min(box_w, round(src_w * scale))), max(1, min(box_h, round(src_h * scale)))


def to_rgb(image: Image.Image) -> Image.Image:
    """First frame, upright, in RGB; transparency composited on a neutral grey."""
    from PIL import Image, ImageOps

    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    with contextlib.suppress(Exception):  # a broken EXIF block must not stop the preview
        image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = image.convert("F")
        extrema = image.getextrema()
        low, high = (0.0, 255.0)
        if isinstance(extrema[0], int | float) and isinstance(extrema[1], int | float):
            low, high = float(extrema[0]), float(extrema[1])
        span = (high - low) or 1.0
        image = image.point(lambda v: (v - low) * 255.0 / span).convert("L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


def _style(top: Pixel | None, bottom: Pixel | None, cache: dict[object, Style]) -> Style:
    key = (top, bottom)
    style = cache.get(key)
    if style is None:
        style = Style(
            color=Color.from_rgb(*top) if top else None,
            bgcolor=Color.from_rgb(*bottom) if bottom else None,
        )
        cache[key] = style
    return style


def half_block_lines(image: Image.Image, width: int, height: int) -> list[Text]:
    """Render `image` as `height` lines of `width` cells, two pixels per cell.

    The image is fitted inside `width` x `2*height` pixels keeping its aspect ratio and centred;
    cells outside it are blank. RGBA, palette, greyscale, 16-bit, CMYK and animated images
    (first frame) are handled; tiny images are upscaled with NEAREST so that pixel art stays
    sharp, others are resampled with LANCZOS (down) or BICUBIC (up).
    """
    from PIL import Image as PILImage

    if width <= 0 or height <= 0:
        return []
    rgb = to_rgb(image)
    fit_w, fit_h = fit_size(rgb.size, (width, 2 * height))
    if (fit_w, fit_h) != rgb.size:
        if max(rgb.size) <= PIXEL_ART_MAX and fit_w >= rgb.width:
            resample = PILImage.Resampling.NEAREST
        elif fit_w < rgb.width:
            resample = PILImage.Resampling.LANCZOS
        else:
            resample = PILImage.Resampling.BICUBIC
        rgb = rgb.resize((fit_w, fit_h), resample)
    raw = rgb.tobytes()
    left = (width - fit_w) // 2
    top = (2 * height - fit_h) // 2

    def pixel(x: int, y: int) -> Pixel | None:
        px, py = x - left, y - top
        if 0 <= px < fit_w and 0 <= py < fit_h:
            offset = 3 * (py * fit_w + px)
            return raw[offset], raw[offset + 1], raw[offset + 2]
        return None

    cache: dict[object, Style] = {}
    lines: list[Text] = []
    for row in range(height):
        text = Text(no_wrap=True, overflow="crop", end="")
        for x in range(width):
            upper, lower = pixel(x, 2 * row), pixel(x, 2 * row + 1)
            if upper is None and lower is None:
                text.append(" ")
            elif upper is None:
                text.append(LOWER_HALF, _style(lower, None, cache))
            else:
                text.append(UPPER_HALF, _style(upper, lower, cache))
        lines.append(text)
    return lines


def decode_image(data: bytes, *, keep_max: int = KEEP_MAX) -> tuple[Image.Image | None, str | None]:
    """Decode `data` into a small RGB image, or return a one-line reason it cannot be shown."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        return None, "cannot preview: empty file"
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        head = data[:8].hex(" ")
        return None, f"cannot preview: not an image ({len(data)} bytes, starts {head})"
    except Image.DecompressionBombError as exc:
        return None, f"cannot preview: image too large ({exc})"
    except Exception as exc:
        if "truncat" in str(exc).lower() or isinstance(exc, EOFError | SyntaxError):
            return None, f"cannot preview: truncated or corrupt image ({exc})"
        return None, f"cannot preview: not an image ({exc})"
    kind = image.format or "image"
    try:
        image.load()
        if max(image.size) > keep_max:
            image.thumbnail((keep_max, keep_max))
        return to_rgb(image), None
    except Image.DecompressionBombError as exc:
        return None, f"cannot preview: image too large ({exc})"
    except Exception as exc:
        return None, f"cannot preview: truncated or corrupt {kind} ({exc})"


@dataclass(frozen=True)
class _Rendered:
    token: int
    size: Size
    image: Image.Image | None
    message: str | None
    lines: list[Text]
    widget_class: type[Widget] | None = None
    """textual-image's widget to show `image` with (None: `lines` are the picture)."""


def fit_cells(src: tuple[int, int], box: Size, cell: tuple[int, int]) -> tuple[int, int]:
    """Cells (width, height) that show an image of `src` pixels inside `box`, keeping its
    aspect ratio on a terminal whose cells are `cell` pixels (width, height)."""
    src_w, src_h = max(1, src[0]), max(1, src[1])
    scale = min(box.width * cell[0] / src_w, box.height * cell[1] / src_h)
    width = max(1, min(box.width, round(src_w * scale / cell[0])))
    height = max(1, min(box.height, round(src_h * scale / cell[1])))
    return width, height


class ImagePreview(Widget):
    """A pane that shows an image, sized to the pane: with Sixel or the Kitty graphics
    protocol where the terminal announced one at start, else with half-block characters.

    `set_image(bytes)` decodes in a thread worker; the pane re-renders when it is resized.
    A file that is not an image, or is truncated, shows a one-line message instead, and
    `ui.image_preview = false` shows "preview off" without decoding anything.
    """

    DEFAULT_CSS = """
    ImagePreview { width: 1fr; height: 1fr; min-height: 2; }
    ImagePreview > .image-preview--message { color: $text-muted; }
    ImagePreview > .image-preview--label { color: $text-muted; text-style: bold; }
    """
    COMPONENT_CLASSES = {"image-preview--message", "image-preview--label"}

    def __init__(
        self,
        data: bytes | None = None,
        *,
        label: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._data: bytes | None = data
        self._label = label
        self._image: Image.Image | None = None
        self._decoded = False
        self._message: str | None = None if data is not None else "no image"
        self._lines: list[Text] = []
        self._token = 0
        self._picture: Widget | None = None
        self._renderer: graphics.Renderer = "halfblock"

    @property
    def message(self) -> str | None:
        """The message shown instead of an image ("no image", "cannot preview: ..."), if any."""
        return self._message

    @property
    def label(self) -> str:
        """The caption under the image."""
        return self._label

    @property
    def lines(self) -> list[Text]:
        """The half-block lines currently shown (empty when a message or a picture is shown)."""
        return list(self._lines)

    @property
    def renderer(self) -> graphics.Renderer:
        """How the current image is drawn: "halfblock", or "tgp"/"sixel" via textual-image."""
        return self._renderer

    def _graphics(self) -> graphics.Graphics:
        """The start-up decision, except half-block when headless (tests)."""
        if self.app.is_headless:
            return graphics.Graphics()
        return graphics.current()

    def _preview_off(self) -> bool:
        ui = getattr(getattr(self.app, "config", None), "ui", None)
        return getattr(ui, "image_preview", True) is False

    def set_image(self, data: bytes | None, *, label: str = "") -> None:
        """Show `data` (encoded image bytes, any format Pillow reads), or "no image" for None.
        The label goes through the sanitiser here: it often carries a server's or a
        decoder's words."""
        self._data = data
        self._label = safe(label, one_line=True)
        self._image = None
        self._decoded = data is None
        self._lines = []
        self._message = "no image" if data is None else None
        self._token += 1
        self._show_picture(None)
        self._start()
        self.refresh()

    def _image_size(self) -> Size:
        width, height = self.content_size
        return Size(width, max(0, height - (1 if self._label else 0)))

    def _start(self) -> None:
        size = self._image_size()
        if not self.is_mounted or size.width <= 0 or size.height <= 0:
            return
        if self._data is None:
            return
        if self._preview_off():
            self._message = "preview off (ui.image_preview = false)"
            return
        self._token += 1
        token, data, image, decoded = self._token, self._data, self._image, self._decoded
        chosen = self._graphics()

        def work() -> _Rendered:
            # The first graphics preview imports textual-image here, off the event loop.
            widget_class = graphics.image_widget(chosen)
            keep = KEEP_MAX if widget_class is None else GRAPHICS_KEEP_MAX
            img, message = (image, None) if decoded else decode_image(data, keep_max=keep)
            if img is None or widget_class is not None:
                return _Rendered(token, size, img, message, [], widget_class)
            lines = half_block_lines(img, size.width, size.height)
            return _Rendered(token, size, img, message, lines)

        self.run_worker(
            work, thread=True, exclusive=True, group="image-preview", exit_on_error=False
        )

    def on_mount(self) -> None:
        self._start()

    def on_resize(self) -> None:
        self._start()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Take the result of a decode/render worker, if it is still the latest one."""
        worker = event.worker
        if worker.group != "image-preview":
            return
        event.stop()
        if event.state == WorkerState.SUCCESS and isinstance(worker.result, _Rendered):
            result = worker.result
            if result.token != self._token:
                return
            self._image, self._decoded = result.image, True
            self._message, self._lines = result.message, result.lines
            self._show_picture(result)
            self.refresh()
        elif event.state == WorkerState.ERROR:
            self._message = f"cannot preview: {worker.error}"
            self._lines = []
            self._show_picture(None)
            self.refresh()

    def _show_picture(self, result: _Rendered | None) -> None:
        """Show `result`'s image in a textual-image widget, or hide that widget."""
        if result is None or result.widget_class is None or result.image is None:
            self._renderer = "halfblock"
            if self._picture is not None:
                self._picture.display = False
            return
        if self._picture is None or not isinstance(self._picture, result.widget_class):
            if self._picture is not None:
                self._picture.remove()
            self._picture = result.widget_class(classes="picture")
            self.mount(self._picture)
        self._renderer = self._graphics().renderer
        box = result.size
        width, height = fit_cells(result.image.size, box, self._graphics().cell)
        picture = self._picture
        picture.styles.width = width
        picture.styles.height = height
        picture.styles.offset = ((box.width - width) // 2, (box.height - height) // 2)
        picture.display = True
        picture.image = result.image  # type: ignore[attr-defined]

    def render(self) -> RenderableType:
        width = self.content_size.width
        rows: list[Text] = []
        if self._message is not None:
            style = self.get_component_rich_style("image-preview--message")
            rows.append(Text(self._message, style=style, no_wrap=True, overflow="ellipsis"))
        else:
            rows.extend(self._lines)
        if self._label:
            filler = max(0, self._image_size().height - len(rows))
            rows.extend(Text("") for _ in range(filler))
            style = self.get_component_rich_style("image-preview--label")
            label = Text(self._label, style=style, no_wrap=True, overflow="ellipsis")
            label.align("center", width)
            rows.append(label)
        # One Text with line breaks: a Group of Texts showed only its first row in a real
        # terminal (Textual 8 renders a Group's lines through a different path than Pilot's
        # screenshots exercise).
        return Text("\n", no_wrap=True).join(rows)
