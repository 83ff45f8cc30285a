"""The Workflows area: the app's workflows, the graph of the selected one, editing by keyboard,
dry runs and the app's default workflow; `v` moves a node to another version of its model.

Edits go to a draft per workflow (marked `*` in the list) until `s` saves it: PostWorkflows
for a new workflow, PatchWorkflows (overwrite) for an existing one. Connections that would
make a cycle or join mismatched types are refused with the reason when you make them, and
the whole graph is checked again before it is sent.

The package (issue #23): `area.py` holds the state and what is shown (`WorkflowsArea`),
`editing.py` the graph edits (`GraphEditing`), `screen.py` the keys, saving, dry runs and the
default (`WorkflowsScreen`), `graph_view.py` the graph widget.
"""

from screens.workflows.area import DEFAULT_MARK
from screens.workflows.editing import PUBLIC_OWNER, PUBLIC_PREFIX
from screens.workflows.graph_view import WorkflowGraphView
from screens.workflows.screen import WorkflowsScreen

__all__ = ["DEFAULT_MARK", "PUBLIC_OWNER", "PUBLIC_PREFIX", "WorkflowGraphView", "WorkflowsScreen"]
