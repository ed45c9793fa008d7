"""Cloud Tasks behind a small class: enqueue a named HTTP task with an OIDC token, delete it,
ask whether it still exists, read the queue's retry limit.

`TASKS_EMULATOR_HOST=host:port` points the real client at a plaintext gRPC
endpoint (the project's fake) with anonymous credentials. Every Google error
leaves this module as `TasksUnavailable` (503), the project's own error.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from shared.config import Settings
from shared.errors import ServiceUnavailable
from shared.google.clients import google_client
from shared.lazy import Lazy

_TASK_ID = re.compile(r"[^A-Za-z0-9_-]")
# The longest Cloud Tasks waits for an HTTP target's answer (its documented maximum).
MAX_DISPATCH_DEADLINE_SECONDS = 1800


class TasksUnavailable(ServiceUnavailable):
    """Cloud Tasks refused or did not answer a call."""

    code = "tasks_unavailable"


def task_id(*parts: str) -> str:
    """A valid Cloud Tasks task id made of `parts` (letters, digits, - and _ only, <= 500 chars)."""
    return _TASK_ID.sub("-", "-".join(parts))[:500]


class TaskQueue:
    """The configured queue (TASKS_QUEUE): named HTTP tasks to a URL, authenticated with OIDC."""

    def __init__(self, settings: Settings):
        if not settings.tasks_queue:
            raise RuntimeError("TASKS_QUEUE is not configured")
        self.settings = settings
        self.queue = settings.tasks_queue
        self._client = Lazy(self._make_client)

    def _make_client(self):
        from google.cloud import tasks_v2

        return google_client(tasks_v2.CloudTasksClient, self.settings.tasks_emulator_host)

    def task_name(self, task: str) -> str:
        return f"{self.queue}/tasks/{task}"

    def enqueue(
        self,
        task: str,
        url: str,
        payload: dict[str, Any],
        *,
        schedule_time: datetime | None = None,
        audience: str | None = None,
        dispatch_deadline: int | None = None,
    ) -> bool:
        """Create task `task` (an id from `task_id`); False if a task of that name already exists.

        The request carries an OIDC token of TASKS_SERVICE_ACCOUNT for `audience` (default: url).
        `dispatch_deadline` (seconds, 15 to 1800) is how long Cloud Tasks waits for the answer
        before it counts the attempt failed (default 10 minutes). TasksUnavailable otherwise.
        """
        from google.api_core import exceptions

        body = self._task(task, url, payload, schedule_time, audience, dispatch_deadline)
        try:
            self._client().create_task(parent=self.queue, task=body)
        except exceptions.AlreadyExists:
            return False
        except exceptions.GoogleAPIError as exc:
            raise _unavailable("create", task, exc) from None
        return True

    def _task(self, task, url, payload, schedule_time, audience, dispatch_deadline) -> dict:
        from google.cloud import tasks_v2
        from google.protobuf import duration_pb2, timestamp_pb2

        http_request: dict[str, Any] = {
            "http_method": tasks_v2.HttpMethod.POST,
            "url": url,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(payload).encode(),
        }
        if self.settings.tasks_service_account:
            http_request["oidc_token"] = {
                "service_account_email": self.settings.tasks_service_account,
                "audience": audience or url,
            }
        body: dict[str, Any] = {"name": self.task_name(task), "http_request": http_request}
        if schedule_time is not None:
            stamp = timestamp_pb2.Timestamp()
            stamp.FromDatetime(schedule_time)
            body["schedule_time"] = stamp
        if dispatch_deadline is not None:
            seconds = max(15, min(dispatch_deadline, MAX_DISPATCH_DEADLINE_SECONDS))
            body["dispatch_deadline"] = duration_pb2.Duration(seconds=seconds)
        return body

    def delete(self, task: str) -> bool:
        """Delete a pending task; False when it no longer exists (ran, or never did)."""
        return self._on_task("delete_task", "delete", task)

    def exists(self, task: str) -> bool:
        """Whether the task is still waiting for (another) delivery."""
        return self._on_task("get_task", "read", task)

    def _on_task(self, method: str, verb: str, task: str) -> bool:
        """Call the client's `method` on the task; False when the task does not exist."""
        from google.api_core import exceptions

        try:
            getattr(self._client(), method)(name=self.task_name(task))
        except exceptions.NotFound:
            return False
        except exceptions.GoogleAPIError as exc:
            raise _unavailable(verb, task, exc) from None
        return True

    def max_attempts(self) -> int | None:
        """The queue's retry limit; None when it is unlimited."""
        from google.api_core import exceptions

        try:
            found = self._client().get_queue(name=self.queue)
        except exceptions.GoogleAPIError as exc:
            raise _unavailable("read the retry config of", self.queue, exc) from None
        value = found.retry_config.max_attempts
        return value if value and value > 0 else None


def _unavailable(what: str, task: str, exc: Exception) -> TasksUnavailable:
    detail = getattr(exc, "message", None) or str(exc)
    return TasksUnavailable(f"Cloud Tasks could not {what} {task}: {detail}")
