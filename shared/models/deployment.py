"""The deployment queue's records: enums, the status machine, the taxonomy key, the public view.

Plain Python: the services load it at start. The request and response shapes (pydantic)
are in `shared.schemas.deployment`, loaded when a request needs them.
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Any


class Provider(str, Enum):
    gcp = "gcp"
    aws = "aws"
    azure = "azure"


class DeploymentType(str, Enum):
    k8s = "k8s"
    terraform = "terraform"
    data_pipeline = "data_pipeline"


class Status(str, Enum):
    scheduled = "scheduled"
    in_progress = "in_progress"
    deployed = "deployed"
    skipped = "skipped"
    failed = "failed"
    rolled_back = "rolled_back"


class Trigger(str, Enum):
    auto = "auto"
    manual = "manual"
    rollback = "rollback"


# The whole status machine: from -> statuses a caller may set. `rolled_back` is
# set only by the system, when a rollback replacing a deployed record is deployed.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.scheduled: frozenset(
        {Status.in_progress, Status.deployed, Status.skipped, Status.failed}
    ),
    Status.in_progress: frozenset({Status.deployed, Status.failed}),
    Status.deployed: frozenset(),
    Status.skipped: frozenset(),
    Status.failed: frozenset(),
    Status.rolled_back: frozenset(),
}
SYSTEM_TRANSITIONS = {(Status.deployed, Status.rolled_back)}


def transition_error(current: Status, target: Status) -> str | None:
    """None when a caller may move `current` -> `target`, else the sentence explaining why not."""
    if current == target or target in TRANSITIONS[current]:
        return None
    if (current, target) in SYSTEM_TRANSITIONS:
        return (
            "only deployq marks a deployment rolled_back, "
            "when the rollback replacing it is deployed"
        )
    allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing (final)"
    return f"cannot move a {current.value} deployment to {target.value}; allowed: {allowed}"


TAXONOMY_FIELDS = ("name", "provider", "cloud_account_id", "region", "cell")


def taxonomy_key(fields: dict[str, Any]) -> str:
    """A stable key for (name, provider, cloud_account_id, region, cell); null is a value too."""
    values = [plain_value(fields.get(name)) for name in TAXONOMY_FIELDS]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:40]


def plain_value(value: Any) -> Any:
    """An enum's value, anything else as it is."""
    return value.value if isinstance(value, Enum) else value


# Fields of a record copied into a rollback deployment.
ROLLBACK_COPIED_FIELDS = (
    "name",
    "version",
    "commit_sha",
    "commit_timestamp",
    "pipeline_extra_params",
    "provider",
    "cloud_account_id",
    "region",
    "environment",
    "cell",
    "type",
    "description",
    "build_uri",
    "resource",
)

# The API's fields of a deployment, in order (`shared.schemas.deployment.Deployment` has
# exactly these; a test holds the two together).
PUBLIC_FIELDS = (
    "id",
    "created_at",
    "updated_at",
    "organisation",
    "name",
    "version",
    "commit_sha",
    "commit_timestamp",
    "pipeline_extra_params",
    "provider",
    "cloud_account_id",
    "region",
    "environment",
    "cell",
    "type",
    "status",
    "auto",
    "trigger",
    "description",
    "notes",
    "build_uri",
    "deployment_uri",
    "resource",
    "source_deployment_id",
    "rollback_from_deployment_id",
    "created_by_repo",
    "created_by_workflow",
    "created_by_actor",
    "deployed_at",
    "status_changed_at",
    "approval_status",
    "approvals",
    "runbooks",
)
# Values of fields that records written before they existed lack.
PUBLIC_DEFAULTS: dict[str, Any] = {"approval_status": "not_required"}


def public(record: dict[str, Any]) -> dict[str, Any]:
    """The API view of a stored record (internal fields such as taxonomy_key dropped)."""
    view = {name: record.get(name, PUBLIC_DEFAULTS.get(name)) for name in PUBLIC_FIELDS}
    view["approvals"] = list(record.get("approvals") or [])
    return view
