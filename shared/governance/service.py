"""The services of a configuration under their earlier name; see `shared.deployments.services`."""

from __future__ import annotations

from shared.deployments.services import services_for

governance_for = services_for
