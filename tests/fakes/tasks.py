"""Fake of Cloud Tasks v2 (``google.cloud.tasks.v2.CloudTasks``) with a real HTTP dispatcher.

Served RPCs: CreateTask, GetTask, DeleteTask, ListTasks, GetQueue (every queue exists).

Behaves like Cloud Tasks where callers can tell:
- task names are unique per queue for ever: a name in use, delivered or deleted is
  ALREADY_EXISTS (Cloud Tasks keeps tombstones); a task without a name gets a generated one;
- a task is not dispatched before its ``schedule_time``;
- HTTP targets get the task's method, headers and body, the ``X-CloudTasks-*`` headers and,
  with ``oidc_token``, ``Authorization: Bearer <JWT>`` signed by ``signer(claims)``;
- a 2xx answer completes the task; anything else (or no answer) retries with exponential
  backoff until ``max_attempts`` dispatches, then the task is dropped;
- ``response_view`` BASIC (the default) omits the body, as Cloud Tasks does.
Only HTTP targets are supported (App Engine targets are INVALID_ARGUMENT).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable

import grpc
import requests
from google.cloud import tasks_v2
from google.protobuf import empty_pb2

from tests.fakes.common import ApiError, FailurePlan, to_datetime, to_epoch
from tests.fakes.common import status_code as _status_code

log = logging.getLogger(__name__)

SERVICE = "google.cloud.tasks.v2.CloudTasks"
_QUEUE_RE = re.compile(r"^projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9-]{1,100}$")
_TASK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
_FULL = tasks_v2.Task.View.FULL

Signer = Callable[[dict], str]


@dataclasses.dataclass
class Delivery:
    """One HTTP request the fake made for a task."""

    name: str
    url: str
    status: int | None
    attempt: int
    time: float
    error: str | None = None
    duplicate: bool = False
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        """True when the target answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


@dataclasses.dataclass
class _Entry:
    task: tasks_v2.Task
    due: float
    create_time: float
    dispatch_count: int = 0
    response_count: int = 0
    first_attempt: float | None = None
    last_attempt: float | None = None
    last_status: int | None = None
    in_flight: bool = False


class FakeTasks:
    """Cloud Tasks queues in memory, dispatched to real HTTP targets by a background thread."""

    def __init__(
        self,
        signer: Signer | None = None,
        min_backoff: float = 0.1,
        max_backoff: float = 2.0,
        max_attempts: int = 5,
        dispatch_timeout: float = 30.0,
        max_concurrent: int = 8,
    ):
        self.signer = signer
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.dispatch_timeout = dispatch_timeout
        self.max_concurrent = max_concurrent
        self.deliveries: list[Delivery] = []
        self.dropped: list[str] = []
        self.exhausted: list[str] = []
        self._failures = FailurePlan()
        self._cond = threading.Condition()
        self._tasks: dict[str, _Entry] = {}
        self._used_names: set[str] = set()
        self._paused = False
        self._duplicates = 0
        self._together = False
        self._drops = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the dispatcher thread."""
        with self._cond:
            self._stopping = False
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.max_concurrent, thread_name_prefix="fake-tasks-delivery"
        )
        self._thread = threading.Thread(target=self._dispatch_loop, name="fake-tasks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop dispatching; deliveries in progress are abandoned."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=5)
        if self._executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._thread = self._executor = None

    # test controls ---------------------------------------------------------------------

    def pause(self) -> None:
        """Hold background dispatch (run_due still dispatches)."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        """Resume background dispatch."""
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def pending(self, queue: str | None = None) -> list[tasks_v2.Task]:
        """Tasks not yet completed or dropped (queue: full path or short id), oldest due first."""
        with self._cond:
            entries = sorted(self._tasks.values(), key=lambda e: (e.due, e.task.name))
            return [self._view(e, _FULL) for e in entries if _in_queue(e.task.name, queue)]

    def duplicate_next(self, n: int = 1, together: bool = False) -> None:
        """Deliver each of the next n dispatches twice, as an at-least-once duplicate; with
        `together`, both requests leave at the same moment (two threads, one barrier)."""
        with self._cond:
            self._duplicates += n
            self._together = together

    def drop_next(self, n: int = 1) -> None:
        """Accept the next n CreateTask calls but never deliver them (a lost task)."""
        with self._cond:
            self._drops += n

    def fail_next(self, method: str, code=grpc.StatusCode.UNAVAILABLE, n: int = 1) -> None:
        """Make the next n calls of an RPC (e.g. "CreateTask") fail with a gRPC code."""
        self._failures.fail_next(method.rsplit("/", 1)[-1], _status_code(code), n)

    def run_due(self, until: float | None = None) -> list[Delivery]:
        """Dispatch, in this thread, every task due by until (epoch or datetime; default now)."""
        limit = time.time() if until is None else to_epoch(until)
        with self._cond:
            batch = self._claim_due(limit)
        records: list[Delivery] = []
        for entry, duplicate in batch:
            records.extend(self._deliver(entry, duplicate))
        return records

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait for every task due within timeout (and retries) to finish; False if not done.

        Tasks scheduled after the deadline are ignored; while paused only deliveries
        already in flight are waited for.
        """
        deadline = time.monotonic() + timeout
        horizon = time.time() + timeout
        with self._cond:
            while self._busy(horizon):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    def reset(self) -> None:
        """Forget every task, tombstone, delivery and scripted behaviour."""
        with self._cond:
            self._tasks.clear()
            self._used_names.clear()
            self.deliveries.clear()
            self.dropped.clear()
            self.exhausted.clear()
            self._duplicates = self._drops = 0
            self._together = False
            self._paused = False
            self._failures.clear()
            self._cond.notify_all()

    # RPCs ------------------------------------------------------------------------------

    def rpc_methods(self) -> dict[str, dict[str, tuple]]:
        """The served methods: {service: {method: (handler, request type, response type)}}."""
        return {
            SERVICE: {
                "CreateTask": (self.create_task, tasks_v2.CreateTaskRequest, tasks_v2.Task),
                "GetTask": (self.get_task, tasks_v2.GetTaskRequest, tasks_v2.Task),
                "DeleteTask": (self.delete_task, tasks_v2.DeleteTaskRequest, empty_pb2.Empty),
                "ListTasks": (
                    self.list_tasks,
                    tasks_v2.ListTasksRequest,
                    tasks_v2.ListTasksResponse,
                ),
                "GetQueue": (self.get_queue, tasks_v2.GetQueueRequest, tasks_v2.Queue),
            }
        }

    def create_task(self, request: tasks_v2.CreateTaskRequest) -> tasks_v2.Task:
        """CreateTask: validate, reserve the name for ever, queue for dispatch."""
        self._failures.check("CreateTask")
        parent = request.parent
        if not _QUEUE_RE.match(parent):
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid queue name {parent!r}")
        task = tasks_v2.Task.deserialize(tasks_v2.Task.serialize(request.task))
        _validate_target(task)
        if task.name:
            prefix, _, task_id = task.name.rpartition("/tasks/")
            if prefix != parent or not _TASK_ID_RE.match(task_id):
                raise ApiError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"task name {task.name!r} must be {parent}/tasks/[A-Za-z0-9_-]{{1,500}}",
                )
        else:
            task.name = f"{parent}/tasks/{secrets.randbelow(10**19):019d}"
        now = time.time()
        due = to_epoch(task.schedule_time) if "schedule_time" in task else now
        task.schedule_time = to_datetime(due)
        task.create_time = to_datetime(now)
        with self._cond:
            if task.name in self._tasks:
                raise ApiError(grpc.StatusCode.ALREADY_EXISTS, "Requested entity already exists")
            if task.name in self._used_names:
                raise ApiError(
                    grpc.StatusCode.ALREADY_EXISTS,
                    "The task cannot be created because a task with this name existed too "
                    "recently.",
                )
            self._used_names.add(task.name)
            entry = _Entry(task=task, due=due, create_time=now)
            if self._drops > 0:
                self._drops -= 1
                self.dropped.append(task.name)
            else:
                self._tasks[task.name] = entry
                self._cond.notify_all()
            return self._view(entry, request.response_view)

    def get_task(self, request: tasks_v2.GetTaskRequest) -> tasks_v2.Task:
        """GetTask: a pending task, NOT_FOUND once completed, dropped or deleted."""
        self._failures.check("GetTask")
        with self._cond:
            entry = self._tasks.get(request.name)
            if entry is None:
                raise ApiError(grpc.StatusCode.NOT_FOUND, f"task {request.name} not found")
            return self._view(entry, request.response_view)

    def delete_task(self, request: tasks_v2.DeleteTaskRequest) -> empty_pb2.Empty:
        """DeleteTask: remove a pending task (a delivery already in flight still happens)."""
        self._failures.check("DeleteTask")
        with self._cond:
            if self._tasks.pop(request.name, None) is None:
                raise ApiError(grpc.StatusCode.NOT_FOUND, f"task {request.name} not found")
            self._cond.notify_all()
        return empty_pb2.Empty()

    def list_tasks(self, request: tasks_v2.ListTasksRequest) -> tasks_v2.ListTasksResponse:
        """ListTasks: the queue's pending tasks, paged by page_size/page_token."""
        self._failures.check("ListTasks")
        if not _QUEUE_RE.match(request.parent):
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid queue {request.parent!r}")
        with self._cond:
            entries = sorted(
                (e for e in self._tasks.values() if _in_queue(e.task.name, request.parent)),
                key=lambda e: (e.due, e.task.name),
            )
            tasks = [self._view(e, request.response_view) for e in entries]
        start = int(request.page_token or 0)
        size = request.page_size or 1000
        page = tasks[start : start + size]
        token = str(start + size) if start + size < len(tasks) else ""
        return tasks_v2.ListTasksResponse(tasks=page, next_page_token=token)

    def get_queue(self, request: tasks_v2.GetQueueRequest) -> tasks_v2.Queue:
        """GetQueue: any well-formed queue name exists and is RUNNING."""
        self._failures.check("GetQueue")
        if not _QUEUE_RE.match(request.name):
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid queue {request.name!r}")
        retry = tasks_v2.RetryConfig(
            max_attempts=self.max_attempts,
            min_backoff=_duration(self.min_backoff),
            max_backoff=_duration(self.max_backoff),
            max_doublings=16,
        )
        return tasks_v2.Queue(
            name=request.name,
            state=tasks_v2.Queue.State.RUNNING,
            retry_config=retry,
            rate_limits=tasks_v2.RateLimits(
                max_dispatches_per_second=500,
                max_burst_size=100,
                max_concurrent_dispatches=self.max_concurrent,
            ),
        )

    # dispatch --------------------------------------------------------------------------

    def _busy(self, horizon: float) -> bool:
        for entry in self._tasks.values():
            if entry.in_flight:
                return True
            if not self._paused and (entry.dispatch_count > 0 or entry.due <= horizon):
                return True
        return False

    def _claim_due(self, until: float) -> list[tuple[_Entry, bool]]:
        due = sorted(
            (e for e in self._tasks.values() if not e.in_flight and e.due <= until),
            key=lambda e: e.due,
        )
        batch = []
        for entry in due:
            entry.in_flight = True
            duplicate = self._duplicates > 0
            if duplicate:
                self._duplicates -= 1
            batch.append((entry, duplicate))
        return batch

    def _dispatch_loop(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                batch = [] if self._paused else self._claim_due(time.time())
                if not batch:
                    self._cond.wait(self._next_wake())
                    continue
            for entry, duplicate in batch:
                try:
                    self._executor.submit(self._deliver, entry, duplicate)
                except RuntimeError:  # executor shut down by stop()
                    return

    def _next_wake(self) -> float:
        waiting = [e.due for e in self._tasks.values() if not e.in_flight]
        if not waiting:
            return 1.0
        return min(max(min(waiting) - time.time(), 0.005), 1.0)

    def _deliver(self, entry: _Entry, duplicate: bool) -> list[Delivery]:
        records: list[Delivery] = []
        try:
            if duplicate and self._together:
                records.extend(self._send_together(entry))
            else:
                records.append(self._send(entry))
                if duplicate:
                    records.append(self._send(entry, duplicate=True))
        except Exception:  # never let a bug strand a task in flight
            log.exception("fake tasks: delivery of %s crashed", entry.task.name)
        finally:
            self._settle(entry, records)
        return records

    def _send_together(self, entry: _Entry) -> list[Delivery]:
        """The delivery and its duplicate, sent by two threads released at once."""
        barrier = threading.Barrier(2)

        def send(duplicate: bool) -> Delivery:
            barrier.wait()
            return self._send(entry, duplicate=duplicate)

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(send, False), pool.submit(send, True)]
            return [future.result() for future in futures]

    def _settle(self, entry: _Entry, records: list[Delivery]) -> None:
        now = time.time()
        with self._cond:
            self.deliveries.extend(records)
            entry.in_flight = False
            entry.dispatch_count += 1
            entry.response_count += sum(1 for r in records if r.status is not None)
            entry.first_attempt = entry.first_attempt or now
            entry.last_attempt = now
            entry.last_status = records[0].status if records else None
            if self._tasks.get(entry.task.name) is not entry:
                pass  # deleted while in flight
            elif any(r.ok for r in records):
                del self._tasks[entry.task.name]
            elif 0 < self.max_attempts <= entry.dispatch_count:
                del self._tasks[entry.task.name]
                self.exhausted.append(entry.task.name)
            else:
                backoff = self.min_backoff * 2 ** (entry.dispatch_count - 1)
                entry.due = now + min(backoff, self.max_backoff)
            self._cond.notify_all()

    def _send(self, entry: _Entry, duplicate: bool = False) -> Delivery:
        task = entry.task
        http = task.http_request
        queue_path, _, task_id = task.name.rpartition("/tasks/")
        headers = dict(http.headers)
        if http.body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/octet-stream"
        headers["User-Agent"] = "Google-Cloud-Tasks"
        headers["X-CloudTasks-QueueName"] = queue_path.rsplit("/", 1)[-1]
        headers["X-CloudTasks-TaskName"] = task_id
        headers["X-CloudTasks-TaskRetryCount"] = str(entry.dispatch_count)
        headers["X-CloudTasks-TaskExecutionCount"] = str(entry.response_count)
        headers["X-CloudTasks-TaskETA"] = f"{to_epoch(task.schedule_time):.6f}"
        if entry.last_status is not None:
            headers["X-CloudTasks-TaskPreviousResponse"] = str(entry.last_status)
        email = http.oidc_token.service_account_email
        if email and self.signer is not None:
            audience = http.oidc_token.audience or http.url
            headers["Authorization"] = f"Bearer {self.signer(oidc_claims(email, audience))}"
        method = tasks_v2.HttpMethod(int(http.http_method))
        verb = "POST" if method == tasks_v2.HttpMethod.HTTP_METHOD_UNSPECIFIED else method.name
        timeout = self.dispatch_timeout
        if task.dispatch_deadline and task.dispatch_deadline.total_seconds() > 0:
            timeout = min(timeout, task.dispatch_deadline.total_seconds())
        record = Delivery(
            name=task.name,
            url=http.url,
            status=None,
            attempt=entry.dispatch_count + 1,
            time=time.time(),
            duplicate=duplicate,
            headers=headers,
            body=bytes(http.body),
        )
        try:
            response = requests.request(
                verb,
                http.url,
                headers=headers,
                data=bytes(http.body) or None,
                timeout=timeout,
                allow_redirects=False,
            )
            record.status = response.status_code
        except requests.RequestException as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        return record

    def _view(self, entry: _Entry, view) -> tasks_v2.Task:
        task = tasks_v2.Task.deserialize(tasks_v2.Task.serialize(entry.task))
        task.schedule_time = to_datetime(entry.due)
        task.dispatch_count = entry.dispatch_count
        task.response_count = entry.response_count
        if entry.first_attempt:
            task.first_attempt = tasks_v2.Attempt(dispatch_time=to_datetime(entry.first_attempt))
        if entry.last_attempt:
            task.last_attempt = tasks_v2.Attempt(dispatch_time=to_datetime(entry.last_attempt))
        full = int(view) == int(_FULL)
        task.view = _FULL if full else tasks_v2.Task.View.BASIC
        if not full:
            task.http_request.body = b""
        return task


def oidc_claims(email: str, audience: str, now: float | None = None) -> dict:
    """Claims of the Google-signed ID token Cloud Tasks sends for a service account."""
    issued = int(time.time() if now is None else now)
    subject = str(int(hashlib.sha256(email.encode()).hexdigest()[:16], 16))
    return {
        "iss": "https://accounts.google.com",
        "aud": audience,
        "azp": subject,
        "sub": subject,
        "email": email,
        "email_verified": True,
        "iat": issued,
        "exp": issued + 3600,
    }


def _validate_target(task: tasks_v2.Task) -> None:
    if "app_engine_http_request" in task:
        raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "the fake supports HTTP targets only")
    url = task.http_request.url
    if not url.startswith(("http://", "https://")):
        raise ApiError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"http_request.url must begin with http:// or https://, got {url!r}",
        )


def _in_queue(task_name: str, queue: str | None) -> bool:
    if not queue:
        return True
    queue_path = task_name.rpartition("/tasks/")[0]
    return queue_path == queue or queue_path.rsplit("/", 1)[-1] == queue


def _duration(seconds: float) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)
