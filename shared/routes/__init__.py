"""Route groups that functions mount beside their own routes.

Each module holds one resource's handlers and a `ROUTES` list; a handler reads the
validated request from its `Context`, calls a service from `services_for(ctx.settings)`
and returns what the route answers.
"""

from __future__ import annotations

from typing import Any

from shared.web import Route

# Schemas load when one of these routes is first served.
M = "shared.schemas.governance:"
D = "shared.schemas.deployment:"
GOVERNANCE_TAGS = ("governance",)


def governed(*args: Any, **fields: Any) -> Route:
    """A governance route, tagged `governance` in the OpenAPI document."""
    return Route(*args, tags=GOVERNANCE_TAGS, **fields)
