"""Cloud Run Admin API v2 behind a small class: read a service, set its traffic with the etag,
read and delete revisions.

`CLOUD_RUN_API_ENDPOINT=host:port` points the real client at a plaintext gRPC endpoint
(the project's fake) with anonymous credentials; unset means Google with ADC.

Google errors leave this module as the project's own (shared/errors.py): a missing
service 404, a stale etag or any ABORTED 409 (`concurrent_update`), an outage 503,
any other refusal 409 (`cloud_run_error`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import Settings
from shared.errors import ApiError, ConcurrentUpdate, Conflict, NotFound, ServiceUnavailable
from shared.google.clients import google_client, plaintext_channel
from shared.lazy import Lazy

OPERATION_TIMEOUT_SECONDS = 300


class CloudRunError(ApiError):
    """A Cloud Run call that did not do what was asked; `kind` names Google's error."""

    retryable = False

    def __init__(self, message: str, *, kind: str = "", **extra):
        super().__init__(message, **extra)
        self.kind = kind

    def about(self, what: str) -> CloudRunError:
        """The same error, its message saying what failed (and to retry, when that helps)."""
        tail = "; retry" if self.retryable else ""
        return type(self)(f"{what}: {self.message}{tail}", kind=self.kind)


class NotFoundError(CloudRunError, NotFound):
    """The service or revision does not exist."""


class CloudRunConflict(CloudRunError, ConcurrentUpdate):
    """Cloud Run answered ABORTED: something changed the resource concurrently."""


class EtagConflict(CloudRunConflict):
    """The service changed since deployq read it (stale etag): someone else is changing it."""


class CloudRunUnavailable(CloudRunError, ServiceUnavailable):
    """Cloud Run did not answer in time or is unavailable: retrying may help."""

    retryable = True


class CloudRunRefused(CloudRunError, Conflict):
    """Cloud Run refused the call (permission, invalid request...)."""

    code = "cloud_run_error"


def translated(exc: Exception) -> CloudRunError:
    """A Google API error as the project's error."""
    from google.api_core import exceptions as gexc

    detail = getattr(exc, "message", None) or str(exc)
    kind = type(exc).__name__
    if isinstance(exc, gexc.NotFound):
        return NotFoundError(detail, kind=kind)
    if isinstance(exc, gexc.Aborted):
        return CloudRunConflict(detail, kind=kind)
    if isinstance(exc, (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.RetryError)):
        return CloudRunUnavailable(detail, kind=kind)
    return CloudRunRefused(detail, kind=kind)


@dataclass(frozen=True)
class TrafficEntry:
    revision: str
    percent: int
    tag: str = ""


@dataclass
class ServiceState:
    """What deployq needs of a service: its etag, traffic (revision names resolved) and tag URLs."""

    name: str
    etag: str
    traffic: list[TrafficEntry]
    tag_urls: dict[str, str] = field(default_factory=dict)
    latest_ready_revision: str | None = None
    raw: object = None  # the run_v2.Service, sent back whole on update

    def percent_of(self, revision: str) -> int:
        return sum(t.percent for t in self.traffic if t.revision == revision)

    def largest(self) -> str | None:
        """The revision serving the largest share of traffic."""
        shares: dict[str, int] = {}
        for entry in self.traffic:
            shares[entry.revision] = shares.get(entry.revision, 0) + entry.percent
        return max(shares, key=lambda r: shares[r]) if shares else None


def service_path(project: str, region: str, service: str) -> str:
    return f"projects/{project}/locations/{region}/services/{service}"


def short_revision(name: str) -> str:
    return name.rsplit("/", 1)[-1]


class CloudRun:
    """The Cloud Run calls a canary makes: get, set traffic (with etag), revisions."""

    def __init__(self, settings: Settings):
        self.settings = settings
        # (services, revisions) clients sharing one channel
        self._clients = Lazy(self._make_clients)

    def _make_clients(self):
        from google.cloud import run_v2

        host = self.settings.cloud_run_api_endpoint
        channel = plaintext_channel(host)
        services = google_client(run_v2.ServicesClient, host, channel)
        return services, google_client(run_v2.RevisionsClient, host, channel)

    def get_service(self, project: str, region: str, service: str) -> ServiceState:
        """The service's state; NotFoundError when it does not exist."""
        from google.api_core import exceptions as gexc

        services, _ = self._clients()
        try:
            pb = services.get_service(name=service_path(project, region, service))
        except gexc.NotFound:
            raise NotFoundError(
                f"Cloud Run service {service} not found in {project}/{region}", kind="NotFound"
            ) from None
        except gexc.GoogleAPIError as exc:
            raise translated(exc) from None
        return _state(pb)

    def revision_exists(self, project: str, region: str, service: str, revision: str) -> bool:
        from google.api_core import exceptions as gexc

        _, revisions = self._clients()
        name = f"{service_path(project, region, service)}/revisions/{revision}"
        try:
            revisions.get_revision(name=name)
        except gexc.NotFound:
            return False
        except gexc.GoogleAPIError as exc:
            raise translated(exc) from None
        return True

    def set_traffic(self, state: ServiceState, traffic: list[TrafficEntry]) -> ServiceState:
        """One UpdateService carrying `state`'s etag; returns the updated service.

        Raises EtagConflict when Cloud Run says the etag is stale (ABORTED or
        FAILED_PRECONDITION), another CloudRunError for any other failure.
        """
        from google.api_core import exceptions as gexc
        from google.cloud import run_v2

        services, _ = self._clients()
        service = run_v2.Service()
        if state.raw is not None:
            service = run_v2.Service.deserialize(run_v2.Service.serialize(state.raw))
        else:
            service.name = state.name
        service.etag = state.etag
        kind = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
        del service.traffic[:]
        service.traffic.extend(
            run_v2.TrafficTarget(type_=kind, revision=t.revision, percent=t.percent, tag=t.tag)
            for t in traffic
        )
        try:
            operation = services.update_service(request={"service": service})
            updated = operation.result(timeout=OPERATION_TIMEOUT_SECONDS)
        except (gexc.Aborted, gexc.FailedPrecondition) as exc:
            raise EtagConflict(str(exc.message or exc), kind=type(exc).__name__) from None
        except gexc.GoogleAPIError as exc:
            raise translated(exc) from None
        return _state(updated)

    def delete_revision(self, project: str, region: str, service: str, revision: str) -> None:
        """Delete a revision (no traffic may reference it); a missing one is already deleted."""
        from google.api_core import exceptions as gexc

        _, revisions = self._clients()
        name = f"{service_path(project, region, service)}/revisions/{revision}"
        try:
            revisions.delete_revision(name=name).result(timeout=OPERATION_TIMEOUT_SECONDS)
        except gexc.NotFound:
            return
        except gexc.GoogleAPIError as exc:
            raise translated(exc) from None


def _state(pb) -> ServiceState:
    traffic = []
    tag_urls = {}
    latest = short_revision(pb.latest_ready_revision) if pb.latest_ready_revision else None
    # traffic_statuses name the revision even for LATEST targets, and carry the tag URLs.
    statuses = list(pb.traffic_statuses) or list(pb.traffic)
    for target in statuses:
        revision = target.revision or latest or ""
        traffic.append(TrafficEntry(short_revision(revision), int(target.percent), target.tag))
        if target.tag and getattr(target, "uri", ""):
            tag_urls[target.tag] = target.uri
    return ServiceState(
        name=pb.name,
        etag=pb.etag,
        traffic=traffic,
        tag_urls=tag_urls,
        latest_ready_revision=latest,
        raw=pb,
    )
