"""The seed workflow graphs of DESIGN.md, shared by the widget tests and the snapshot app."""

from __future__ import annotations

from tui.widgets.graph import GraphNode

THRESHOLDS_HIGH = "walker>0.90 runner>0.90 bike_rider>0.90"
THRESHOLDS_LOW = "walker>0.50 runner>0.50 bike_rider>0.50"


def seed_graph() -> list[GraphNode]:
    """The wizard's "review band" wiring."""
    return [
        GraphNode("embed", ["visual-embedder"], []),
        GraphNode("classify", ["embedding-classifier"], ["embed"]),
        GraphNode(
            "confident", ["concept-thresholder", "GREATER_THAN", THRESHOLDS_HIGH], ["classify"]
        ),
        GraphNode("write-success", ["annotation-writer", "SUCCESS"], ["confident"]),
        GraphNode("unsure", ["concept-thresholder", "GREATER_THAN", THRESHOLDS_LOW], ["classify"]),
        GraphNode(
            "unsure-band",
            ["concept-thresholder", "LESS_THAN_OR_EQUAL", THRESHOLDS_HIGH.replace(">", "<=")],
            ["unsure"],
        ),
        GraphNode("write-pending", ["annotation-writer", "PENDING"], ["unsure-band"]),
    ]


def tutorial_graph() -> list[GraphNode]:
    """The tutorial's wiring: LESS_THAN low straight to the PENDING writer."""
    nodes = [n for n in seed_graph() if n.id not in ("unsure", "unsure-band", "write-pending")]
    return [
        *nodes,
        GraphNode(
            "low",
            ["concept-thresholder", "LESS_THAN", THRESHOLDS_LOW.replace(">", "<")],
            ["classify"],
        ),
        GraphNode("write-pending", ["annotation-writer", "PENDING"], ["low"]),
    ]
