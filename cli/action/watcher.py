"""What a waiting step of the Action logs: canary checks, status changes, approval waits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cli.action.github import Workflow
from cli.action.summary import check_line
from cli.flow import Watcher


class ActionWatcher(Watcher):
    """Log lines of a waiting step: every canary check, status changes, approval waits."""

    def __init__(self, workflow: Workflow, clock: Callable[[], float]):
        self.workflow = workflow
        self.clock = clock
        self._last_wait_line = -1e9

    def waiting_for_approval(self, deployment: dict[str, Any], elapsed: float) -> None:
        if self.clock() - self._last_wait_line >= 60:
            self._last_wait_line = self.clock()
            given = len([a for a in deployment.get("approvals") or [] if a.get("decision")])
            self.workflow.say(
                f"deployment {deployment['id']} waits for approval "
                f"({given} given, {elapsed / 60:.0f} min so far)"
            )

    def check(self, canary: dict[str, Any], check: dict[str, Any]) -> None:
        self.workflow.say(check_line(check))

    def canary_status(self, canary: dict[str, Any]) -> None:
        reason = canary.get("reason")
        self.workflow.say(
            f"canary {canary.get('id')}: {canary.get('status')} at "
            f"{canary.get('traffic_percent')}% traffic" + (f" ({reason})" if reason else "")
        )
        if canary.get("status") == "held":
            self.workflow.warning(
                f"canary {canary.get('id')} is held and waits for a person to promote or "
                f"abort it: {reason}",
                title="deployq canary",
            )
