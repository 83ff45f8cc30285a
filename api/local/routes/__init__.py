"""Route modules of the embedded backend, one per resource.

Each exports ``ROUTES: list[RouteSpec]``. To add a resource, write a module here and append it
to ``ROUTE_MODULES`` below; order matters only for paths that overlap
(a literal segment such as ``/inputs/status`` must come before ``/inputs/{input_id}``).
"""

from __future__ import annotations

from api.local.http import RouteSpec
from api.local.routes.annotations import ROUTES as ANNOTATIONS
from api.local.routes.apps import ROUTES as APPS
from api.local.routes.concepts import ROUTES as CONCEPTS
from api.local.routes.inputs import ROUTES as INPUTS
from api.local.routes.models import ROUTES as MODELS
from api.local.routes.review import ROUTES as REVIEW
from api.local.routes.searches import ROUTES as SEARCHES
from api.local.routes.workflows import COUNT_ROUTES
from api.local.routes.workflows import ROUTES as WORKFLOWS

#: Route lists, mounted in this order.
ROUTE_MODULES: list[list[RouteSpec]] = [
    APPS,
    SEARCHES,  # before INPUTS and ANNOTATIONS: literal /searches segments
    INPUTS,
    COUNT_ROUTES,
    CONCEPTS,
    REVIEW,  # before ANNOTATIONS: its path is under /annotations/
    ANNOTATIONS,
    MODELS,
    WORKFLOWS,
]


def all_routes() -> list[RouteSpec]:
    return [spec for routes in ROUTE_MODULES for spec in routes]
