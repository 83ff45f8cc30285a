"""Workflow graph: validation, layered layout, text rendering and the GraphView widget."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from tests.widgets.graph_app import GraphApp
from tests.widgets.seed import seed_graph, tutorial_graph
from tui.widgets.graph import (
    ARROW,
    INPUT_ID,
    GraphLayout,
    GraphNode,
    GraphView,
    find_cycle,
    layout,
    render_graph,
    unknown_inputs,
    wrap,
)

HERE = Path(__file__).parent


def node(node_id: str, *inputs: str) -> GraphNode:
    return GraphNode(node_id, [], list(inputs))


def random_dag(seed: int, size: int = 9) -> list[GraphNode]:
    rng = random.Random(seed)
    nodes: list[GraphNode] = []
    for i in range(size):
        earlier = [n.id for n in nodes]
        k = rng.choice([0, 1, 1, 1, 2, 3]) if earlier else 0
        inputs = rng.sample(earlier, min(k, len(earlier)))
        nodes.append(GraphNode(f"n{i}", ["x" * rng.randint(1, 20)], inputs))
    rng.shuffle(nodes)
    return nodes


def layer_of(result: GraphLayout) -> dict[str, int]:
    return {vid: i for i, layer in enumerate(result.layers) for vid in layer}


# -- validation ---------------------------------------------------------------------------------


def test_find_cycle() -> None:
    assert find_cycle(seed_graph()) is None
    cycle = find_cycle([node("a", "c"), node("b", "a"), node("c", "b"), node("d", "a")])
    assert cycle is not None and sorted(cycle) == ["a", "b", "c"]
    feeds = {("a", "b"), ("b", "c"), ("c", "a")}
    assert all((cycle[i], cycle[(i + 1) % 3]) in feeds for i in range(3))  # in edge order
    assert find_cycle([node("a", "a")]) == ["a"]
    assert find_cycle([node("a", "ghost"), node("b", "a")]) is None


def test_unknown_inputs() -> None:
    assert unknown_inputs(seed_graph()) == []
    nodes = [node("a"), node("b", "a", "ghost"), node("c", "spook")]
    assert unknown_inputs(nodes) == [("b", "ghost"), ("c", "spook")]


def test_layout_refuses_cycles_and_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="cycle: a → b → a"):
        layout([node("a", "b"), node("b", "a")])
    with pytest.raises(ValueError, match="duplicate node ids: a"):
        layout([node("a"), node("a")])


# -- layout -------------------------------------------------------------------------------------


def test_seed_layers_are_longest_paths_from_the_input() -> None:
    layers = layer_of(layout(seed_graph()))
    assert layers == {
        INPUT_ID: 0,
        "embed": 1,
        "classify": 2,
        "confident": 3,
        "unsure": 3,
        "write-success": 4,
        "unsure-band": 4,
        "write-pending": 5,
    }
    tutorial = layer_of(layout(tutorial_graph()))
    assert tutorial["low"] == 3 and tutorial["write-pending"] == 4


def test_long_edges_and_missing_inputs() -> None:
    result = layout([node("a"), node("b", "a"), node("c", "a", "b"), node("d", "ghost")])
    layers = layer_of(result)
    assert (layers["a"], layers["b"], layers["c"]) == (1, 2, 3)
    assert result.boxes["?ghost"].kind == "missing" and layers["d"] == 1
    text = "\n".join(render_graph([node("a"), node("b", "a"), node("c", "a", "b")]))
    assert text.count(ARROW) == 3  # one arrow into each box: a->c joins b->c


def test_barycenter_order_removes_crossings() -> None:
    nodes = [node("a"), node("b"), node("x", "b"), node("y", "a")]
    assert layout(nodes).layers[2] == ["y", "x"]


@pytest.mark.parametrize("seed", range(12))
def test_boxes_never_overlap_and_edges_avoid_boxes(seed: int) -> None:
    nodes = random_dag(seed)
    for width in (None, 80):
        result = layout(nodes, max_width=width)
        boxes = list(result.boxes.values())
        for i, first in enumerate(boxes):
            for second in boxes[i + 1 :]:
                assert not first.region.overlaps(second.region), (first, second)
        for x1, y1, x2, y2 in result.segments:
            for x in range(min(x1, x2), max(x1, x2) + 1):
                for y in range(min(y1, y2), max(y1, y2) + 1):
                    assert not any(b.region.contains(x, y) for b in boxes), (x, y)


def test_box_sizes_follow_their_text() -> None:
    result = layout(seed_graph())
    box = result.boxes["confident"]
    assert box.text[0] == "confident" and box.title_rows == 1
    assert box.width == max(map(len, box.text)) + 4  # borders and one space each side
    assert box.height == len(box.text) + 2


def test_wrap() -> None:
    assert wrap("walker>0.90 runner>0.90", 12) == ["walker>0.90", "runner>0.90"]
    assert wrap("concept-thresholder", 12) == ["concept-", "thresholder"]
    assert wrap("GREATER_THAN", 10) == ["GREATER_", "THAN"]
    assert wrap("", 5) == [""]


# -- text rendering -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [seed_graph, tutorial_graph])
def test_seed_renders_in_80_columns(make: Any) -> None:
    nodes = make()
    lines = render_graph(nodes)
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= 80
    for graph_node in nodes:
        assert graph_node.id in text
    assert "input" in text
    # one arrow into every box, the fork from classify drawn with a branch and a corner
    assert text.count(ARROW) == len(nodes)
    assert "┤" in text or "┼" in text or "┬" in text
    assert "┌▶" in text and "└▶" in text


def test_seed_fork_is_followable() -> None:
    lines = render_graph(seed_graph())
    row = next(i for i, line in enumerate(lines) if "│classify" in line)
    column = lines[row].index("│", lines[row].index("classify")) + 2  # after the "─"
    assert lines[row][column] in "┤┼"  # classify's line forks up and down
    top = next(i for i, line in enumerate(lines) if "confident" in line)
    bottom = next(i for i, line in enumerate(lines) if "unsure " in line or "unsure│" in line)
    assert lines[top][column : column + 2] == "┌▶"
    assert lines[bottom][column : column + 2] == "└▶"
    assert all(lines[r][column] in "│┤┼" for r in range(top + 1, bottom))


def test_merge_into_one_arrow() -> None:
    nodes = [*seed_graph()[:-1], GraphNode("low", ["LESS_THAN"], ["classify"])]
    nodes.append(GraphNode("write-pending", ["PENDING"], ["unsure-band", "low"]))
    lines = render_graph(nodes)
    target = next(line for line in lines if "│write-pending" in line)
    assert "┬▶│write-pending" in target or "┴▶│write-pending" in target
    assert max(map(len, lines)) <= 80


def test_selected_node_has_a_heavy_border() -> None:
    text = "\n".join(render_graph(seed_graph(), selected="classify"))
    assert "┃classify" in text and text.count("┏") == 1


def test_wide_graph_is_not_squeezed_below_ids() -> None:
    chain = [node("a-rather-long-node-id")]
    for i in range(8):
        chain.append(node(f"step-number-{i}", chain[-1].id))
    lines = render_graph(chain)
    assert max(map(len, lines)) > 80 and "step-number-7" in "\n".join(lines)


# -- widget -------------------------------------------------------------------------------------


async def test_graph_view_moves_selection_by_keys() -> None:
    app = GraphApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(GraphView)
        assert view.selected == "embed"
        steps = [
            ("right", "classify"),
            ("l", "confident"),
            ("down", "unsure"),
            ("j", "unsure"),
            ("right", "unsure-band"),
            ("l", "write-pending"),
            ("right", "write-pending"),
            ("h", "unsure-band"),
            ("up", "write-success"),
            ("k", "write-success"),
            ("left", "confident"),
            ("left", "classify"),
        ]
        for key, expected in steps:
            await pilot.press(key)
            assert view.selected == expected, key
        await pilot.pause()
        assert app.selections[-1] == "classify"
        assert "unsure" in app.selections and "write-pending" in app.selections


async def test_graph_view_scrolls_to_the_selection() -> None:
    app = GraphApp()
    async with app.run_test(size=(40, 10)) as pilot:
        view = app.query_one(GraphView)
        for key in ["l", "l", "j", "l", "l"]:
            await pilot.press(key)
        await pilot.pause()
        assert view.selected == "write-pending"
        layout_ = view.graph_layout
        assert layout_ is not None
        box = layout_.boxes["write-pending"]
        x, y = view.scroll_offset
        region = view.scrollable_content_region
        assert x <= box.x and box.x + box.width <= x + region.width
        assert y <= box.y and box.y + box.height <= y + region.height


async def test_graph_view_set_graph_and_messages() -> None:
    app = GraphApp(nodes=[])
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(GraphView)
        assert view.message == "no nodes" and view.selected is None
        view.set_graph([node("a", "b"), node("b", "a")])
        await pilot.pause()
        assert view.message == "cycle: a → b → a"
        view.set_graph(tutorial_graph(), selected="low")
        await pilot.pause()
        assert view.message is None and view.selected == "low"
        assert any("│low" in line or "┃low" in line for line in view.lines)
        view.set_graph(seed_graph())  # "low" is gone: the first node is selected
        await pilot.pause()
        assert view.selected == "embed"


def test_seed_graph_snapshot(snap_compare: Any) -> None:
    assert snap_compare(str(HERE / "graph_app.py"), terminal_size=(80, 24), press=["l", "l"])
