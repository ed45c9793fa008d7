"""Fake of the Cloud Run Admin API v2 (``google.cloud.run.v2.Services`` / ``Revisions``).

Served RPCs: Services.GetService, Services.UpdateService (a long-running operation that is
already done, Service in ``response`` and ``metadata``), Revisions.GetRevision,
Revisions.ListRevisions, Revisions.DeleteRevision (LRO with the Revision), and
``google.longrunning.Operations`` GetOperation / WaitOperation / DeleteOperation /
ListOperations for those operations.

Only the traffic split is modelled; ``template`` and other fields of an update are ignored.
Like Cloud Run: ``etag`` changes on every update and a non-empty stale etag is ABORTED;
traffic must name existing revisions with percents summing to 100 (INVALID_ARGUMENT);
empty traffic means 100% to the latest revision; unknown service or revision is NOT_FOUND;
deleting a revision that any traffic entry references (percent > 0 or a tag) is
FAILED_PRECONDITION. Revisions are listed newest first.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import uuid
from typing import Any

import grpc
from google.cloud import run_v2
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2

from tests.fakes.common import ApiError, FailurePlan, to_datetime
from tests.fakes.common import status_code as _status_code

SERVICES = "google.cloud.run.v2.Services"
REVISIONS = "google.cloud.run.v2.Revisions"
OPERATIONS = "google.longrunning.Operations"

_SERVICE_RE = re.compile(r"^projects/([^/]+)/locations/([^/]+)/services/([^/]+)$")
_REVISION_RE = re.compile(
    r"^projects/([^/]+)/locations/([^/]+)/services/([^/]+)/revisions/([^/]+)$"
)
_REVISION_TYPE = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
_LATEST_TYPE = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
_TAG_RE = re.compile(r"^[a-z]([a-z0-9-]{0,44}[a-z0-9])?$")


@dataclasses.dataclass
class _Service:
    project: str
    region: str
    service: str
    revisions: dict[str, float]  # short name -> create time, oldest first
    traffic: list[dict]  # {"revision", "percent", "tag", "latest"}
    etag_serial: int = 1
    generation: int = 1
    create_time: float = dataclasses.field(default_factory=time.time)
    update_time: float = dataclasses.field(default_factory=time.time)

    @property
    def name(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/services/{self.service}"

    @property
    def etag(self) -> str:
        return f'"fake-etag-{self.etag_serial}"'

    @property
    def latest(self) -> str:
        return next(reversed(self.revisions))

    def resolve(self, target: dict) -> str:
        return self.latest if target.get("latest") else target["revision"]


class FakeRun:
    """Cloud Run services with scripted revisions and traffic, changed only through the API."""

    def __init__(self, tag_url_template: str = "http://127.0.0.1:{port}/{tag}"):
        self.tag_url_template = tag_url_template
        self.port: int | None = None
        self.updates: list[dict] = []
        self.deleted_revisions: list[str] = []
        self._failures = FailurePlan()
        self._lock = threading.RLock()
        self._services: dict[str, _Service] = {}
        self._operations: dict[str, operations_pb2.Operation] = {}

    # test controls ---------------------------------------------------------------------

    def add_service(
        self,
        project: str,
        region: str,
        service: str,
        revisions: list[str] | None = None,
        traffic: list[dict] | None = None,
    ) -> dict:
        """Create (or replace) a service; default one revision with 100% of traffic."""
        revisions = list(revisions or [f"{service}-00001-abc"])
        now = time.time()
        state = _Service(
            project,
            region,
            service,
            revisions={rev: now + i * 1e-3 for i, rev in enumerate(revisions)},
            traffic=[],
        )
        state.traffic = _parse_traffic(
            state, traffic or [{"revision": revisions[-1], "percent": 100}]
        )
        with self._lock:
            self._services[state.name] = state
            return self._describe(state)

    def add_revision(
        self, project: str, region: str, service: str, revision: str | None = None
    ) -> str:
        """Add a new (latest) revision without moving traffic, as a deploy with --no-traffic."""
        with self._lock:
            state = self._get(project, region, service)
            revision = revision or f"{service}-{len(state.revisions) + 1:05d}-new"
            state.revisions[revision] = time.time()
            return revision

    def service(self, project: str, region: str, service: str) -> dict:
        """Current state: name, etag, generation, traffic [{revision, percent, tag}], revisions."""
        with self._lock:
            return self._describe(self._get(project, region, service))

    def external_update(
        self, project: str, region: str, service: str, traffic: list[dict] | None = None
    ) -> str:
        """Someone else updates the service: bumps the etag, optionally sets traffic."""
        with self._lock:
            state = self._get(project, region, service)
            if traffic is not None:
                state.traffic = _parse_traffic(state, traffic)
            self._bump(state)
            return state.etag

    def fail_next(self, method: str, code: Any = grpc.StatusCode.UNAVAILABLE, n: int = 1) -> None:
        """Make the next n calls of method ("UpdateService", ...) fail with a gRPC code."""
        self._failures.fail_next(method.rsplit("/", 1)[-1], _status_code(code), n)

    def revisions_of(self, project: str, service: str) -> list[tuple[str, str]]:
        """(region, revision) pairs of every service of that name in the project."""
        with self._lock:
            return [
                (s.region, rev)
                for s in self._services.values()
                if s.project == project and s.service == service
                for rev in s.revisions
            ]

    def services_of(self, project: str) -> list[str]:
        """Short names of the project's services."""
        with self._lock:
            return sorted({s.service for s in self._services.values() if s.project == project})

    def reset(self) -> None:
        """Forget every service, operation, recorded update and scripted failure."""
        with self._lock:
            self._services.clear()
            self._operations.clear()
            self.updates.clear()
            self.deleted_revisions.clear()
            self._failures.clear()

    # RPCs ------------------------------------------------------------------------------

    def rpc_methods(self) -> dict[str, dict[str, tuple]]:
        """The served methods: {service: {method: (handler, request type, response type)}}."""
        op = operations_pb2
        return {
            SERVICES: {
                "GetService": (self.get_service, run_v2.GetServiceRequest, run_v2.Service),
                "UpdateService": (self.update_service, run_v2.UpdateServiceRequest, op.Operation),
            },
            REVISIONS: {
                "GetRevision": (self.get_revision, run_v2.GetRevisionRequest, run_v2.Revision),
                "ListRevisions": (
                    self.list_revisions,
                    run_v2.ListRevisionsRequest,
                    run_v2.ListRevisionsResponse,
                ),
                "DeleteRevision": (
                    self.delete_revision,
                    run_v2.DeleteRevisionRequest,
                    op.Operation,
                ),
            },
            OPERATIONS: {
                "GetOperation": (self.get_operation, op.GetOperationRequest, op.Operation),
                "WaitOperation": (self.get_operation, op.WaitOperationRequest, op.Operation),
                "DeleteOperation": (
                    self.delete_operation,
                    op.DeleteOperationRequest,
                    empty_pb2.Empty,
                ),
                "ListOperations": (
                    self.list_operations,
                    op.ListOperationsRequest,
                    op.ListOperationsResponse,
                ),
            },
        }

    def get_service(self, request: run_v2.GetServiceRequest) -> run_v2.Service:
        """GetService."""
        self._failures.check("GetService")
        with self._lock:
            return self._service_pb(self._by_name(request.name))

    def update_service(self, request: run_v2.UpdateServiceRequest) -> operations_pb2.Operation:
        """UpdateService: etag check, traffic validation, then a done LRO with the Service."""
        wanted = [_target_dict(t) for t in request.service.traffic]
        record = {
            "service": request.service.name,
            "etag": request.service.etag,
            "traffic": wanted,
            "outcome": "OK",
        }
        with self._lock:
            self.updates.append(record)
            try:
                self._failures.check("UpdateService")
                state = self._by_name(request.service.name)
                if request.service.etag and request.service.etag != state.etag:
                    raise ApiError(
                        grpc.StatusCode.ABORTED,
                        f"etag mismatch: the service was modified concurrently (sent "
                        f"{request.service.etag}, current {state.etag})",
                    )
                traffic = _parse_traffic(state, wanted or [{"latest": True, "percent": 100}])
                if not request.validate_only:
                    state.traffic = traffic
                    self._bump(state)
                service = self._service_pb(state)
            except ApiError as err:
                record["outcome"] = err.code.name
                raise
            return self._operation(state, run_v2.Service, service)

    def get_revision(self, request: run_v2.GetRevisionRequest) -> run_v2.Revision:
        """GetRevision."""
        self._failures.check("GetRevision")
        with self._lock:
            state, revision = self._revision(request.name)
            return self._revision_pb(state, revision)

    def list_revisions(self, request: run_v2.ListRevisionsRequest) -> run_v2.ListRevisionsResponse:
        """ListRevisions of a service, newest first, paged by page_size/page_token."""
        self._failures.check("ListRevisions")
        with self._lock:
            state = self._by_name(request.parent)
            names = sorted(state.revisions, key=state.revisions.get, reverse=True)
            revisions = [self._revision_pb(state, rev) for rev in names]
        start = int(request.page_token or 0)
        size = request.page_size or 100
        token = str(start + size) if start + size < len(revisions) else ""
        return run_v2.ListRevisionsResponse(
            revisions=revisions[start : start + size], next_page_token=token
        )

    def delete_revision(self, request: run_v2.DeleteRevisionRequest) -> operations_pb2.Operation:
        """DeleteRevision: refused while traffic references the revision."""
        self._failures.check("DeleteRevision")
        with self._lock:
            state, revision = self._revision(request.name)
            serving = [
                t
                for t in state.traffic
                if state.resolve(t) == revision and (t["percent"] > 0 or t["tag"])
            ]
            if serving:
                raise ApiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"revision {revision} is referenced by the service's traffic and cannot "
                    "be deleted",
                )
            pb = self._revision_pb(state, revision)
            if request.etag and request.etag != pb.etag:
                raise ApiError(grpc.StatusCode.ABORTED, "etag mismatch for the revision")
            if not request.validate_only:
                del state.revisions[revision]
                self.deleted_revisions.append(revision)
            return self._operation(state, run_v2.Revision, pb)

    def get_operation(self, request) -> operations_pb2.Operation:
        """GetOperation / WaitOperation: every operation is already done."""
        with self._lock:
            if request.name not in self._operations:
                raise ApiError(grpc.StatusCode.NOT_FOUND, f"operation {request.name} not found")
            return self._operations[request.name]

    def delete_operation(self, request) -> empty_pb2.Empty:
        """DeleteOperation."""
        with self._lock:
            if self._operations.pop(request.name, None) is None:
                raise ApiError(grpc.StatusCode.NOT_FOUND, f"operation {request.name} not found")
        return empty_pb2.Empty()

    def list_operations(self, request) -> operations_pb2.ListOperationsResponse:
        """ListOperations under a location (no paging)."""
        with self._lock:
            ops = [
                op
                for name, op in self._operations.items()
                if name.startswith(request.name.rstrip("/") + "/")
            ]
        return operations_pb2.ListOperationsResponse(operations=ops)

    # helpers ---------------------------------------------------------------------------

    def _get(self, project: str, region: str, service: str) -> _Service:
        name = f"projects/{project}/locations/{region}/services/{service}"
        if name not in self._services:
            raise KeyError(f"no fake Cloud Run service {name}")
        return self._services[name]

    def _by_name(self, name: str) -> _Service:
        if not _SERVICE_RE.match(name):
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid service name {name!r}")
        if name not in self._services:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"Resource '{name}' was not found")
        return self._services[name]

    def _revision(self, name: str) -> tuple[_Service, str]:
        match = _REVISION_RE.match(name)
        if not match:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid revision name {name!r}")
        service_name = name.rsplit("/revisions/", 1)[0]
        state = self._services.get(service_name)
        if state is None or match.group(4) not in state.revisions:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"Resource '{name}' was not found")
        return state, match.group(4)

    @staticmethod
    def _bump(state: _Service) -> None:
        state.etag_serial += 1
        state.generation += 1
        state.update_time = time.time()

    def _describe(self, state: _Service) -> dict:
        traffic = []
        for target in state.traffic:
            entry = {
                "revision": state.resolve(target),
                "percent": target["percent"],
                "tag": target["tag"],
            }
            if target.get("latest"):
                entry["latest"] = True
            traffic.append(entry)
        return {
            "name": state.name,
            "etag": state.etag,
            "generation": state.generation,
            "traffic": traffic,
            "revisions": list(state.revisions),
        }

    def _tag_uri(self, state: _Service, tag: str) -> str:
        return self.tag_url_template.format(
            tag=tag,
            service=state.service,
            port=self.port,
            project=state.project,
            region=state.region,
        )

    def _service_pb(self, state: _Service) -> run_v2.Service:
        targets, statuses = [], []
        for target in state.traffic:
            kind = _LATEST_TYPE if target.get("latest") else _REVISION_TYPE
            uri = self._tag_uri(state, target["tag"]) if target["tag"] else ""
            targets.append(
                run_v2.TrafficTarget(
                    type_=kind,
                    revision="" if target.get("latest") else target["revision"],
                    percent=target["percent"],
                    tag=target["tag"],
                )
            )
            statuses.append(
                run_v2.TrafficTargetStatus(
                    type_=kind,
                    revision=state.resolve(target),
                    percent=target["percent"],
                    tag=target["tag"],
                    uri=uri,
                )
            )
        latest = f"{state.name}/revisions/{state.latest}"
        return run_v2.Service(
            name=state.name,
            uid=str(uuid.uuid5(uuid.NAMESPACE_URL, state.name)),
            generation=state.generation,
            observed_generation=state.generation,
            etag=state.etag,
            create_time=to_datetime(state.create_time),
            update_time=to_datetime(state.update_time),
            traffic=targets,
            traffic_statuses=statuses,
            latest_ready_revision=latest,
            latest_created_revision=latest,
            uri=f"https://{state.service}-fake-{state.region}.a.run.app",
            urls=[f"https://{state.service}-fake-{state.region}.a.run.app"],
            terminal_condition=_ready(),
            conditions=[_ready()],
            reconciling=False,
        )

    def _revision_pb(self, state: _Service, revision: str) -> run_v2.Revision:
        created = state.revisions[revision]
        return run_v2.Revision(
            name=f"{state.name}/revisions/{revision}",
            uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{state.name}/{revision}")),
            generation=1,
            observed_generation=1,
            service=state.name,
            create_time=to_datetime(created),
            update_time=to_datetime(created),
            conditions=[_ready()],
            etag=f'"fake-revision-etag-{revision}"',
            reconciling=False,
        )

    def _operation(self, state: _Service, kind, message) -> operations_pb2.Operation:
        name = f"projects/{state.project}/locations/{state.region}/operations/{uuid.uuid4()}"
        packed = any_pb2.Any()
        packed.Pack(kind.pb(message))
        operation = operations_pb2.Operation(name=name, done=True, response=packed, metadata=packed)
        self._operations[name] = operation
        return operation


def _ready() -> run_v2.Condition:
    return run_v2.Condition(type_="Ready", state=run_v2.Condition.State.CONDITION_SUCCEEDED)


def _target_dict(target: run_v2.TrafficTarget) -> dict:
    entry = {"revision": target.revision, "percent": target.percent, "tag": target.tag}
    if int(target.type_) == int(_LATEST_TYPE):
        entry["latest"] = True
    return entry


def _parse_traffic(state: _Service, traffic: list[dict]) -> list[dict]:
    """Validate a requested split like Cloud Run; raise INVALID_ARGUMENT when it is wrong."""
    parsed, tags = [], set()
    for raw in traffic:
        target = {
            "revision": raw.get("revision", ""),
            "percent": int(raw.get("percent", 0)),
            "tag": raw.get("tag", "") or "",
        }
        if raw.get("latest") or raw.get("type") in ("LATEST", _LATEST_TYPE):
            target["latest"] = True
            target["revision"] = ""
        elif not target["revision"]:
            raise _invalid("a traffic target needs a revision or type LATEST")
        elif target["revision"] not in state.revisions:
            raise _invalid(
                f"revision {target['revision']} named in traffic does not exist "
                f"in service {state.service}"
            )
        if not 0 <= target["percent"] <= 100:
            raise _invalid(f"traffic percent must be 0..100, got {target['percent']}")
        if target["tag"]:
            if not _TAG_RE.match(target["tag"]) or target["tag"] in tags:
                raise _invalid(f"invalid or duplicate traffic tag {target['tag']!r}")
            tags.add(target["tag"])
        parsed.append(target)
    total = sum(t["percent"] for t in parsed)
    if total != 100:
        raise _invalid(f"traffic percentages must sum to 100, got {total}")
    return parsed


def _invalid(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, message)
