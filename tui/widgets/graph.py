"""The workflow DAG drawn with boxes and arrows, left to right, in plain text.

One module on purpose (issue #23): layering, ordering, routing and drawing are one layout
engine whose steps share its private graph and route types; the widget at the end only shows
its output.

Pure functions first (`find_cycle`, `unknown_inputs`, `layout`, `draw`, `render_graph`), then
the `GraphView` widget that shows a render, highlights the selected node and moves the
selection with the arrow keys (or h/j/k/l).

Layout is the classic layered (Sugiyama) recipe, kept small: a node's layer is the longest
path from the workflow input; edges that span several layers go through one-row "dummy"
waypoints; the order inside a layer comes from barycenter sweeps (fewest crossings kept);
rows are aligned with the neighbours' ports; between two layers every source that forks gets
its own vertical track, and the track order is chosen to avoid false junctions. Edges leave
and enter a box on its first text row (the node id).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

INPUT_ID: Final = "<input>"
"""Id of the workflow-input source box (not a valid Clarifai id, so it cannot clash)."""
MISSING_PREFIX: Final = "?"
"""Prefix of the ids of placeholder boxes drawn for inputs that name no node."""
MIN_TEXT_WIDTH: Final = 8
MAX_TEXT_WIDTH: Final = 32
MAX_BODY_ROWS: Final = 6
TAIL: Final = 0
"""Columns of "─" between the last track of a gap and the arrow head."""
SWEEPS: Final = 8

BoxKind = Literal["node", "input", "missing"]


@dataclass
class GraphNode:
    """One workflow node: its id, the text shown under the id, and the ids it takes input from.

    A node with no `inputs` takes the workflow input. If `lines[0]` repeats the id it is not
    shown twice.
    """

    id: str
    lines: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Box:
    """A box of the layout, in character cells."""

    id: str
    kind: BoxKind
    layer: int
    x: int
    y: int
    width: int
    height: int
    text: tuple[str, ...]
    title_rows: int = 1

    @property
    def region(self) -> Region:
        return Region(self.x, self.y, self.width, self.height)


@dataclass(frozen=True)
class GraphLayout:
    """Where everything goes: boxes, edge segments (x1, y1, x2, y2) and arrow heads (x, y)."""

    boxes: dict[str, Box]
    layers: list[list[str]]
    """Box ids per layer, top to bottom (no dummy waypoints)."""
    segments: list[tuple[int, int, int, int]]
    arrows: list[tuple[int, int]]
    width: int
    height: int
    padding: int = 1


# -- validation -------------------------------------------------------------------------------


def find_cycle(nodes: Sequence[GraphNode]) -> list[str] | None:
    """The ids of one cycle, in edge order (each feeds the next, the last feeds the first).

    Returns None when the graph is acyclic. Inputs that name no node are ignored.
    """
    feeds: dict[str, list[str]] = {node.id: [] for node in nodes}
    for node in nodes:
        for source in dict.fromkeys(node.inputs):
            if source in feeds:
                feeds[source].append(node.id)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in feeds:
        if root in state:
            continue
        path: list[str] = [root]
        stack: list[Iterator[str]] = [iter(feeds[root])]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(feeds[nxt]))
    return None


def unknown_inputs(nodes: Sequence[GraphNode]) -> list[tuple[str, str]]:
    """Every `(node_id, input_id)` where `input_id` names no node of the graph."""
    ids = {node.id for node in nodes}
    return [(node.id, source) for node in nodes for source in node.inputs if source not in ids]


# -- text --------------------------------------------------------------------------------------


def _split_word(word: str, width: int) -> list[str]:
    """Break a word longer than `width` after '-', '_' or '>' where possible, else hard."""
    pieces: list[str] = []
    while len(word) > width:
        cut = max((m.end() for m in re.finditer(r"[-_>=,]", word[:width])), default=0)
        if cut < 3:
            cut = width
        pieces.append(word[:cut])
        word = word[cut:]
    return [*pieces, word] if word else pieces


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap to `width` columns; long words break at '-', '_' or '>' if they can."""
    rows: list[str] = []
    row = ""
    for word in text.split():
        for index, piece in enumerate(_split_word(word, width)):
            glue = " " if index == 0 and row else ""
            if row and len(row) + len(glue) + len(piece) <= width:
                row += glue + piece
            else:
                if row:
                    rows.append(row)
                row = piece
    if row:
        rows.append(row)
    return rows or [""]


def _box_text(title: str, body: Sequence[str], width: int) -> tuple[tuple[str, ...], int]:
    title_rows = wrap(title, max(width, min(len(title), MAX_TEXT_WIDTH)))
    rows: list[str] = []
    for line in body:
        rows.extend(wrap(line, width))
    if len(rows) > MAX_BODY_ROWS:
        rows = [*rows[: MAX_BODY_ROWS - 1], "…"]
    return (*title_rows, *rows), len(title_rows)


# -- layout ------------------------------------------------------------------------------------


@dataclass
class _Graph:
    """The layered graph with dummy waypoints: ids per layer, and edges between layers."""

    texts: dict[str, tuple[BoxKind, str, list[str]]]  # box id -> (kind, title, body)
    layer_of: dict[str, int]
    layers: list[list[str]]  # includes dummies
    preds: dict[str, list[str]]
    succs: dict[str, list[str]]

    def is_dummy(self, vid: str) -> bool:
        return vid not in self.texts


def _build(nodes: Sequence[GraphNode]) -> _Graph:
    ids = [node.id for node in nodes]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate node ids: {', '.join(duplicates)}")
    cycle = find_cycle(nodes)
    if cycle:
        raise ValueError("cycle: " + " → ".join([*cycle, cycle[0]]))
    known = set(ids)
    texts: dict[str, tuple[BoxKind, str, list[str]]] = {}
    preds: dict[str, list[str]] = {}
    if any(not node.inputs for node in nodes):
        texts[INPUT_ID] = ("input", "input", [])
        preds[INPUT_ID] = []
    for node in nodes:
        for source in node.inputs:
            if source not in known and MISSING_PREFIX + source not in texts:
                texts[MISSING_PREFIX + source] = ("missing", source, ["(missing)"])
                preds[MISSING_PREFIX + source] = []
    for node in nodes:
        body = node.lines[1:] if node.lines[:1] == [node.id] else node.lines
        texts[node.id] = ("node", node.id, list(body))
        sources = [s if s in known else MISSING_PREFIX + s for s in dict.fromkeys(node.inputs)]
        preds[node.id] = sources or [INPUT_ID]

    layer_of: dict[str, int] = {}

    def layer(vid: str) -> int:
        if vid not in layer_of:
            layer_of[vid] = 1 + max((layer(p) for p in preds[vid]), default=-1)
        return layer_of[vid]

    for vid in texts:
        layer(vid)
    # Long edges go through one dummy waypoint per layer they cross.
    succs: dict[str, list[str]] = {vid: [] for vid in texts}
    real_preds = {vid: list(ps) for vid, ps in preds.items()}
    for vid in texts:
        preds[vid] = []
    for target, sources in real_preds.items():
        for source in sources:
            prev = source
            for lay in range(layer_of[source] + 1, layer_of[target]):
                dummy = f"\x00{source}\x00{target}\x00{lay}"
                layer_of[dummy] = lay
                preds[dummy] = [prev]
                succs[dummy] = []
                succs[prev].append(dummy)
                prev = dummy
            preds[target].append(prev)
            succs[prev].append(target)
    depth = max(layer_of.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(depth)]
    for vid in layer_of:  # insertion order: the nodes' order, then dummies
        layers[layer_of[vid]].append(vid)
    return _Graph(texts, layer_of, layers, preds, succs)


def _crossings(layers: list[list[str]], succs: dict[str, list[str]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(layers):
        pos = {vid: i for i, vid in enumerate(lower)}
        edges = [(i, pos[t]) for i, s in enumerate(upper) for t in succs[s]]
        pairs = itertools.combinations(edges, 2)
        total += sum(1 for (a1, b1), (a2, b2) in pairs if (a1 - a2) * (b1 - b2) < 0)
    return total


def _order(graph: _Graph) -> list[list[str]]:
    """Barycenter sweeps down and up; the ordering with the fewest crossings wins."""
    layers = [list(layer) for layer in graph.layers]
    best, best_cost = [list(la) for la in layers], _crossings(layers, graph.succs)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        indices = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for i in indices:
            ref = {vid: p for p, vid in enumerate(layers[i - 1 if down else i + 1])}
            neighbours = graph.preds if down else graph.succs

            def key(
                item: tuple[int, str],
                ref: dict[str, int] = ref,
                neighbours: dict[str, list[str]] = neighbours,
            ) -> float:
                index, vid = item
                around = [ref[n] for n in neighbours[vid] if n in ref]
                return sum(around) / len(around) if around else float(index)

            layers[i] = [vid for _, vid in sorted(enumerate(layers[i]), key=key)]
        cost = _crossings(layers, graph.succs)
        if cost < best_cost:
            best, best_cost = [list(la) for la in layers], cost
    return best


@dataclass
class _Route:
    """One source's edges across a gap, in gap-relative columns (-1 = stub, k = arrow)."""

    source_row: int
    targets: list[tuple[str, int]]  # (target id, port row)
    track: int | None = None

    def segments(self, arrow: int) -> list[tuple[int, int, int, str | None]]:
        """Horizontal segments (row, c1, c2, target or None)."""
        straight = next((t for t, row in self.targets if row == self.source_row), None)
        if self.track is None:
            return [(self.source_row, -1, arrow, straight)]
        out: list[tuple[int, int, int, str | None]] = [(self.source_row, -1, self.track, straight)]
        out.extend((row, self.track, arrow, t) for t, row in self.targets)
        return out

    def span(self) -> tuple[int, int]:
        rows = [self.source_row, *(row for _, row in self.targets)]
        return min(rows), max(rows)


def _route_cost(routes: list[_Route], arrow: int) -> int:
    cost = 0
    for a, b in itertools.permutations(routes, 2):
        if a.track is not None:
            top, bottom = a.span()
            a_targets = {t for t, _ in a.targets}
            for row, c1, c2, tag in b.segments(arrow):
                if c1 <= a.track <= c2 and top <= row <= bottom:
                    if tag is not None and tag in a_targets:
                        continue  # a merge into the same target
                    inside = top < row < bottom and c1 < a.track < c2
                    cost += 1 if inside else 20
        for row, c1, c2, tag in a.segments(arrow):
            for row2, d1, d2, tag2 in b.segments(arrow):
                if row == row2 and c1 <= d2 and d1 <= c2 and (tag is None or tag != tag2):
                    cost += 20
    return cost


def _assign_tracks(routes: list[_Route]) -> int:
    """Give every forking/bending source a track column; returns the number of tracks."""
    bending = [r for r in routes if any(row != r.source_row for _, row in r.targets)]
    count = len(bending)
    if count == 0:
        return 0
    candidates: Iterable[tuple[_Route, ...]]
    if count <= 6:
        candidates = itertools.permutations(bending)
    else:
        candidates = [tuple(sorted(bending, key=lambda r: r.source_row))]
    best: tuple[_Route, ...] | None = None
    best_cost = -1
    for order in candidates:
        for index, route in enumerate(order):
            route.track = index
        cost = _route_cost(routes, count + TAIL)
        if best is None or cost < best_cost:
            best, best_cost = order, cost
    for index, route in enumerate(best or ()):
        route.track = index
    return count


def _place_rows(
    order: list[list[str]],
    heights: dict[str, int],
    port: dict[str, int],
    graph: _Graph,
) -> dict[str, int]:
    """Top rows: aligned with predecessors, then with successors, never overlapping."""
    y: dict[str, int] = {}

    def place(layer: list[str], desired: dict[str, int]) -> None:
        bottom = -1
        for vid in layer:
            top = max(desired.get(vid, y.get(vid, 0)) - port[vid], bottom + 1, 0)
            y[vid] = top
            bottom = top + heights[vid]

    def mean_port(vids: list[str]) -> int | None:
        rows = [y[v] + port[v] for v in vids if v in y]
        return sum(rows) // len(rows) if rows else None

    def median_port(vids: list[str]) -> int | None:
        rows = sorted(y[v] + port[v] for v in vids if v in y)
        return rows[(len(rows) - 1) // 2] if rows else None

    for layer in order:
        want = {v: m for v in layer if (m := median_port(graph.preds[v])) is not None}
        place(layer, want)
    for layer in reversed(order[:-1]):
        want = {v: m for v in layer if (m := mean_port(graph.succs[v])) is not None}
        place(layer, want)
    for layer in order[1:]:  # waypoints of long edges line up with where they come from
        want = {v: y[v] + port[v] for v in layer}
        for v in layer:
            if graph.is_dummy(v) and (m := median_port(graph.preds[v])) is not None:
                want[v] = m
        place(layer, want)
    return y


def _layout_once(
    graph: _Graph, order: list[list[str]], text_widths: list[int], pad: int
) -> GraphLayout:
    texts: dict[str, tuple[tuple[str, ...], int]] = {}
    widths: dict[str, int] = {}
    heights: dict[str, int] = {}
    port: dict[str, int] = {}
    for layer, text_width in zip(order, text_widths, strict=True):
        for vid in layer:
            if graph.is_dummy(vid):
                widths[vid], heights[vid], port[vid] = 1, 1, 0
                continue
            _kind, title, body = graph.texts[vid]
            texts[vid] = _box_text(title, body, text_width)
            widths[vid] = max(len(row) for row in texts[vid][0]) + 2 + 2 * pad
            heights[vid], port[vid] = len(texts[vid][0]) + 2, 1
    y = _place_rows(order, heights, port, graph)

    segments: list[tuple[int, int, int, int]] = []
    arrows: list[tuple[int, int]] = []
    boxes: dict[str, Box] = {}
    x = 0
    for index, layer in enumerate(order):
        layer_width = max(widths[v] for v in layer)
        right = x + layer_width - 1
        for vid in layer:
            if graph.is_dummy(vid):
                segments.append((x - 1, y[vid], right, y[vid]))
            else:
                kind = graph.texts[vid][0]
                text, title_rows = texts[vid]
                boxes[vid] = Box(vid, kind, index, x, y[vid], widths[vid], heights[vid], text,
                                 title_rows)  # fmt: skip
        if index + 1 == len(order):
            break
        routes = {
            vid: _Route(y[vid] + port[vid], [(t, y[t] + port[t]) for t in graph.succs[vid]])
            for vid in layer
            if graph.succs[vid]
        }
        tracks = _assign_tracks(list(routes.values()))
        arrow = right + 2 + tracks + TAIL
        for vid, route in routes.items():
            start = x + widths[vid] if not graph.is_dummy(vid) else right + 1
            for row, c1, c2, _tag in route.segments(tracks + TAIL):
                if c1 == -1:
                    segments.append((start, row, right + 2 + c2, row))
                else:
                    segments.append((right + 2 + c1, row, right + 2 + c2, row))
            if route.track is not None:
                top, bottom = route.span()
                column = right + 2 + route.track
                segments.append((column, top, column, bottom))
            for target, row in route.targets:
                if not graph.is_dummy(target):
                    arrows.append((arrow, row))
        x = arrow + 1
    layers = [[v for v in layer if not graph.is_dummy(v)] for layer in order]
    width = max((b.x + b.width for b in boxes.values()), default=0)
    height = max([b.y + b.height for b in boxes.values()] + [s[3] + 1 for s in segments], default=0)
    return GraphLayout(boxes, layers, segments, arrows, width, height, pad)


_BREAK_AFTER: Final = re.compile(r"[^-_>=,\s]*[-_>=,]?")


@dataclass
class _Widths:
    """Per layer: the natural text width (longest line), the least (longest id), and the
    lengths of the unbreakable pieces of its text (what wrapping narrower would cut)."""

    natural: list[int]
    least: list[int]
    pieces: list[list[int]]

    def damage(self, layer: int, width: int) -> int:
        return sum(1 for length in self.pieces[layer] if length > width)


def _text_widths(graph: _Graph, order: list[list[str]]) -> _Widths:
    widths = _Widths([], [], [])
    for layer in order:
        texts = [graph.texts[v] for v in layer if not graph.is_dummy(v)]
        ids = [len(title) for _kind, title, _body in texts]
        body = [line for _kind, _title, lines in texts for line in lines]
        low = max(MIN_TEXT_WIDTH, min(MAX_TEXT_WIDTH, max(ids, default=0)))
        longest = max((len(line) for line in body), default=0)
        widths.least.append(low)
        widths.natural.append(max(low, min(MAX_TEXT_WIDTH, longest)))
        widths.pieces.append(
            [len(m) for line in body for m in _BREAK_AFTER.findall(line) if len(m) > low]
        )
    return widths


def layout(nodes: Sequence[GraphNode], *, max_width: int | None = None) -> GraphLayout:
    """Lay out the graph left to right in character cells.

    With `max_width`, box padding is dropped and box text wrapped as far as needed to fit,
    one column at a time off the layer where that breaks the fewest words (then the widest);
    node ids are never wrapped unless longer than 32. A graph that cannot fit is laid out at
    the narrowest setting. Raises ValueError for a cycle or duplicate ids. Inputs that name
    no node get a "(missing)" placeholder box.
    """
    graph = _build(nodes)
    order = _order(graph)
    info = _text_widths(graph, order)
    result = _layout_once(graph, order, info.natural, 1)
    if max_width is None or result.width <= max_width:
        return result
    widths = list(info.natural)
    result = _layout_once(graph, order, widths, 0)
    while result.width > max_width:
        shrinkable = [i for i, w in enumerate(widths) if w > info.least[i]]
        if not shrinkable:
            break
        for _ in range(result.width - max_width):
            candidates = [i for i, w in enumerate(widths) if w > info.least[i]]
            if not candidates:
                break
            best = min(
                candidates,
                key=lambda i: (
                    info.damage(i, widths[i] - 1) - info.damage(i, widths[i]),
                    -widths[i],
                    -i,
                ),
            )
            widths[best] -= 1
        result = _layout_once(graph, order, widths, 0)
    return result


# -- drawing -----------------------------------------------------------------------------------

_N, _E, _S, _W = 1, 2, 4, 8
_LINE_CHARS: Final = {
    _E: "─", _W: "─", _E | _W: "─", _N: "│", _S: "│", _N | _S: "│",
    _E | _S: "┌", _W | _S: "┐", _N | _E: "└", _N | _W: "┘",
    _E | _W | _S: "┬", _E | _W | _N: "┴", _N | _S | _E: "├", _N | _S | _W: "┤",
    _N | _E | _S | _W: "┼",
}  # fmt: skip
_BORDERS: Final[dict[str, tuple[str, ...]]] = {
    "node": tuple("┌─┐│└┘"),
    "selected": tuple("┏━┓┃┗┛"),
    "input": tuple("╭─╮│╰╯"),
    "missing": tuple("┌╌┐╎└┘"),
}
ARROW: Final = "▶"


def draw(graph: GraphLayout, selected: str | None = None) -> list[str]:
    """Draw a layout as plain text lines (trailing spaces stripped)."""
    masks = [[0] * graph.width for _ in range(graph.height)]

    def mark(x: int, y: int, bits: int) -> None:
        if 0 <= y < graph.height and 0 <= x < graph.width:
            masks[y][x] |= bits

    for x1, y1, x2, y2 in graph.segments:
        if y1 == y2:
            for x in range(min(x1, x2), max(x1, x2) + 1):
                mark(x, y1, (_W if x > min(x1, x2) else 0) | (_E if x < max(x1, x2) else 0))
        else:
            for y in range(min(y1, y2), max(y1, y2) + 1):
                mark(x1, y, (_N if y > min(y1, y2) else 0) | (_S if y < max(y1, y2) else 0))
    canvas = [[_LINE_CHARS.get(bits, " ") for bits in row] for row in masks]
    for x, y in graph.arrows:
        canvas[y][x] = ARROW
    for box in graph.boxes.values():
        tl, hz, tr, vt, bl, br = _BORDERS["selected" if box.id == selected else box.kind]
        right, bottom = box.x + box.width - 1, box.y + box.height - 1
        canvas[box.y][box.x : right + 1] = [tl, *hz * (box.width - 2), tr]
        canvas[bottom][box.x : right + 1] = [bl, *hz * (box.width - 2), br]
        for row in range(box.y + 1, bottom):
            text = box.text[row - box.y - 1].ljust(box.width - 2 - 2 * graph.padding)
            inner = " " * graph.padding + text + " " * graph.padding
            canvas[row][box.x : right + 1] = [vt, *inner, vt]
    return ["".join(row).rstrip() for row in canvas]


def render_graph(
    nodes: Sequence[GraphNode], selected: str | None = None, *, max_width: int | None = 80
) -> list[str]:
    """The graph as plain text lines, fitted to `max_width` columns where it can be.

    The selected node is drawn with a heavy border. Raises ValueError for a cycle.
    """
    return draw(layout(nodes, max_width=max_width), selected)


# -- widget ------------------------------------------------------------------------------------


class GraphView(ScrollView, can_focus=True):
    """Shows a workflow graph; arrows or h/j/k/l move the selection between nodes."""

    DEFAULT_CSS = """
    GraphView { width: 1fr; height: 1fr; }
    GraphView > .graph-view--selected { text-style: bold reverse; }
    GraphView > .graph-view--title { text-style: bold; }
    GraphView > .graph-view--message { color: $text-warning; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "graph-view--selected",
        "graph-view--title",
        "graph-view--message",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "move('left')", "Left", show=False, id="graph.left"),
        Binding("right,l", "move('right')", "Right", show=False, id="graph.right"),
        Binding("up,k", "move('up')", "Up", show=False, id="graph.up"),
        Binding("down,j", "move('down')", "Down", show=False, id="graph.down"),
    ]

    class NodeSelected(Message):
        """The selection moved to `node_id`."""

        def __init__(self, graph_view: GraphView, node_id: str) -> None:
            super().__init__()
            self.graph_view = graph_view
            self.node_id = node_id

        @property
        def control(self) -> GraphView:
            return self.graph_view

    def __init__(
        self,
        nodes: Sequence[GraphNode] = (),
        *,
        selected: str | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._graph_nodes: list[GraphNode] = list(nodes)
        self._selected = selected
        self._layout: GraphLayout | None = None
        self._lines: list[str] = []
        self._message: str | None = None
        self._fitted_to: int | None = None

    @property
    def selected(self) -> str | None:
        """The id of the selected node."""
        return self._selected

    @property
    def graph_layout(self) -> GraphLayout | None:
        """The current layout (None before the first render or when the graph is invalid)."""
        return self._layout

    @property
    def lines(self) -> list[str]:
        """The plain text currently drawn."""
        return list(self._lines)

    @property
    def message(self) -> str | None:
        """Why no graph is drawn ("no nodes", "cycle: a → b → a"), if so."""
        return self._message

    def set_graph(self, nodes: Sequence[GraphNode], *, selected: str | None = None) -> None:
        """Show `nodes`; keep the selection if that node still exists (or select `selected`)."""
        self._graph_nodes = list(nodes)
        if selected is not None:
            self._selected = selected
        self._fitted_to = None
        self._relayout()

    def select(self, node_id: str) -> None:
        """Select a node by id (ignored if there is no such node)."""
        if any(node.id == node_id for node in self._graph_nodes):
            self._change_selection(node_id)

    def _node_layers(self) -> list[list[str]]:
        if self._layout is None:
            return []
        boxes = self._layout.boxes
        layers = [[v for v in layer if boxes[v].kind == "node"] for layer in self._layout.layers]
        return [layer for layer in layers if layer]

    def _relayout(self) -> None:
        width = self.scrollable_content_region.width if self.is_mounted else 0
        if width <= 0 and self.is_mounted:
            return
        self._fitted_to = width
        self._message = None
        try:
            self._layout = layout(self._graph_nodes, max_width=width or None)
        except ValueError as exc:
            self._layout, self._message = None, str(exc)
        if self._layout is not None and not self._graph_nodes:
            self._layout, self._message = None, "no nodes"
        if self._layout is None:
            self._lines = [self._message or ""]
            self.virtual_size = Size(len(self._lines[0]), 1)
            self.refresh()
            return
        ids = {n.id for n in self._graph_nodes}
        if self._selected not in ids:
            layers = self._node_layers()
            self._change_selection(layers[0][0] if layers else None, scroll=False)
        self._draw()
        self.call_after_refresh(self._scroll_to_selection)

    def _draw(self) -> None:
        if self._layout is None:
            return
        self._lines = draw(self._layout, self._selected)
        self.virtual_size = Size(self._layout.width, self._layout.height)
        self.refresh()

    def _change_selection(self, node_id: str | None, *, scroll: bool = True) -> None:
        if node_id == self._selected:
            return
        self._selected = node_id
        self._draw()
        if node_id is not None:
            self.post_message(self.NodeSelected(self, node_id))
            if scroll:
                self._scroll_to_selection()

    def _scroll_to_selection(self) -> None:
        if self._layout is None or self._selected not in self._layout.boxes:
            return
        box = self._layout.boxes[self._selected]
        self.scroll_to_region(box.region, animate=False, immediate=True)

    def on_mount(self) -> None:
        self._relayout()

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._fitted_to:
            self._relayout()

    def action_move(self, direction: str) -> None:
        """Move the selection to the nearest node left/right, or the previous/next in a layer."""
        layers = self._node_layers()
        if self._layout is None or not layers:
            return
        where = {vid: (i, j) for i, layer in enumerate(layers) for j, vid in enumerate(layer)}
        if self._selected not in where:
            self._change_selection(layers[0][0])
            return
        i, j = where[self._selected]
        if direction in ("up", "down"):
            j = max(0, min(len(layers[i]) - 1, j + (1 if direction == "down" else -1)))
            self._change_selection(layers[i][j])
            return
        i += 1 if direction == "right" else -1
        if not 0 <= i < len(layers):
            return
        boxes = self._layout.boxes
        here = boxes[self._selected].y + 1
        nearest = min(layers[i], key=lambda vid: (abs(boxes[vid].y + 1 - here), boxes[vid].y))
        self._change_selection(nearest)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = y + scroll_y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if row >= len(self._lines):
            return Strip.blank(width, base)
        line = self._lines[row]
        if self._layout is None:
            style = base + self.get_component_rich_style("graph-view--message")
            return Strip([Segment(line, style)]).crop_extend(scroll_x, scroll_x + width, base)
        styles = self._cell_styles(row, len(line), base)
        segments = [Segment(line[a:b], style) for a, b, style in styles]
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, base)

    def _cell_styles(self, row: int, length: int, base: Style) -> list[tuple[int, int, Style]]:
        """Runs (start, end, style) covering one line: titles bold, the selected box reversed."""
        assert self._layout is not None
        runs: list[tuple[int, int, Style]] = []
        title = base + self.get_component_rich_style("graph-view--title")
        chosen = base + self.get_component_rich_style("graph-view--selected")
        for box in sorted(self._layout.boxes.values(), key=lambda b: b.x):
            if not box.y <= row < box.y + box.height or box.x >= length:
                continue
            if box.id == self._selected:
                runs.append((box.x, min(length, box.x + box.width), chosen))
            elif box.kind == "node" and box.y < row <= box.y + box.title_rows:
                start = box.x + 1 + self._layout.padding
                runs.append((start, min(length, start + box.width - 2), title))
        cells: list[tuple[int, int, Style]] = []
        at = 0
        for start, end, style in runs:
            if start > at:
                cells.append((at, start, base))
            cells.append((start, end, style))
            at = end
        if at < length:
            cells.append((at, length, base))
        return cells
