"""The project's gRPC fake of Cloud Tasks, Cloud Run Admin v2 and Monitoring v3, driven through
the real google-cloud clients over a plaintext channel, as the product uses them."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.api_core import exceptions
from google.cloud import monitoring_v3, run_v2, tasks_v2

from tests.fakes import FakeGoogleApis, rs256_signer
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "projects/proj/locations/us-central1/queues/deployq"
SA = "tasks@proj.iam.gserviceaccount.com"
SERVICE = "projects/proj/locations/europe-west1/services/web"
REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer


class Target:
    """A local HTTP endpoint that answers scripted statuses and records what it got."""

    def __init__(self):
        self.statuses: list[int] = []
        self.received: list[dict] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target.received.append(
                    {
                        "at": time.time(),
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                status = target.statuses.pop(0) if target.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/tasks/run"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def key():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, private.public_key()


@pytest.fixture(scope="module")
def fake(key):
    with FakeGoogleApis(
        signer=rs256_signer(key[0], kid="test-kid"),
        min_backoff=0.05,
        max_backoff=0.2,
        max_attempts=5,
        tag_url_template="http://127.0.0.1:9/{service}/{tag}",
    ) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(fake):
    fake.reset()
    yield
    fake.reset()


@pytest.fixture
def target():
    endpoint = Target()
    yield endpoint
    endpoint.close()


@pytest.fixture(scope="module")
def channel(fake):
    chan = grpc.insecure_channel(fake.address)
    yield chan
    chan.close()


@pytest.fixture(scope="module")
def tasks(channel):
    transport = tasks_v2.services.cloud_tasks.transports.CloudTasksGrpcTransport(channel=channel)
    return tasks_v2.CloudTasksClient(transport=transport)


@pytest.fixture(scope="module")
def services(channel):
    transport = run_v2.services.services.transports.ServicesGrpcTransport(channel=channel)
    return run_v2.ServicesClient(transport=transport)


@pytest.fixture(scope="module")
def revisions(channel):
    transport = run_v2.services.revisions.transports.RevisionsGrpcTransport(channel=channel)
    return run_v2.RevisionsClient(transport=transport)


@pytest.fixture(scope="module")
def metrics(channel):
    transport = monitoring_v3.services.metric_service.transports.MetricServiceGrpcTransport(
        channel=channel
    )
    return monitoring_v3.MetricServiceClient(transport=transport)


def http_task(url, name=None, delay=None, audience=""):
    task = {
        "http_request": {
            "url": url,
            "body": b'{"job_id": "j1"}',
            "headers": {"Content-Type": "application/json"},
            "oidc_token": {"service_account_email": SA, "audience": audience},
        }
    }
    if name:
        task["name"] = f"{QUEUE}/tasks/{name}"
    if delay is not None:
        task["schedule_time"] = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
    return task


# Cloud Tasks ---------------------------------------------------------------------------------


def test_a_task_name_is_unique_for_ever(fake, tasks, target):
    fake.tasks.pause()
    tasks.create_task(parent=QUEUE, task=http_task(target.url, "job-1-attempt-1"))
    with pytest.raises(exceptions.AlreadyExists):
        tasks.create_task(parent=QUEUE, task=http_task(target.url, "job-1-attempt-1"))
    fake.tasks.resume()
    assert fake.tasks.wait_idle(5)
    assert len(target.received) == 1
    with pytest.raises(exceptions.AlreadyExists):  # tombstone of a delivered task
        tasks.create_task(parent=QUEUE, task=http_task(target.url, "job-1-attempt-1"))
    unnamed = tasks.create_task(parent=QUEUE, task=http_task(target.url))
    assert unnamed.name.startswith(f"{QUEUE}/tasks/")


def test_schedule_time_is_honoured(fake, tasks, target):
    task = tasks.create_task(parent=QUEUE, task=http_task(target.url, "later", delay=2.0))
    due = task.schedule_time.timestamp()
    assert tasks.get_task(name=task.name).schedule_time == task.schedule_time
    time.sleep(0.2)
    assert target.received == []
    assert [t.name for t in fake.tasks.pending(QUEUE)] == [task.name]
    wait_for(lambda: target.received)
    assert target.received[0]["at"] >= due
    wait_for(lambda: not fake.tasks.pending())
    with pytest.raises(exceptions.NotFound):
        tasks.get_task(name=task.name)


def test_delivery_carries_a_verifiable_google_oidc_token(fake, tasks, target, key):
    tasks.create_task(parent=QUEUE, task=http_task(target.url, "oidc"))
    tasks.create_task(
        parent=QUEUE, task=http_task(target.url, "oidc-aud", audience="https://worker.example")
    )
    assert fake.tasks.wait_idle(5)
    by_name = {r["headers"]["X-CloudTasks-TaskName"]: r for r in target.received}
    first = by_name["oidc"]
    assert first["body"] == b'{"job_id": "j1"}'
    assert first["headers"]["Content-Type"] == "application/json"
    assert first["headers"]["X-CloudTasks-QueueName"] == "deployq"
    token = first["headers"]["Authorization"].removeprefix("Bearer ")
    assert jwt.get_unverified_header(token)["kid"] == "test-kid"
    claims = jwt.decode(
        token,
        key[1],
        algorithms=["RS256"],
        audience=target.url,
        issuer="https://accounts.google.com",
    )
    assert claims["email"] == SA and claims["email_verified"] is True
    assert claims["exp"] - claims["iat"] == 3600 and claims["sub"]
    other = by_name["oidc-aud"]["headers"]["Authorization"].removeprefix("Bearer ")
    assert (
        jwt.decode(other, key[1], algorithms=["RS256"], audience="https://worker.example")["email"]
        == SA
    )
    with pytest.raises(jwt.InvalidSignatureError):
        wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        jwt.decode(token, wrong, algorithms=["RS256"], audience=target.url)


def test_failures_retry_with_backoff_until_success(fake, tasks, target):
    target.statuses = [500, 503]
    task = tasks.create_task(parent=QUEUE, task=http_task(target.url, "flaky"))
    wait_for(lambda: len(target.received) == 3)
    assert fake.tasks.wait_idle(5)
    headers = [r["headers"] for r in target.received]
    assert [h["X-CloudTasks-TaskRetryCount"] for h in headers] == ["0", "1", "2"]
    assert [h["X-CloudTasks-TaskExecutionCount"] for h in headers] == ["0", "1", "2"]
    gaps = [b["at"] - a["at"] for a, b in zip(target.received, target.received[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # min_backoff, then doubled
    assert [(d.status, d.attempt) for d in fake.tasks.deliveries] == [(500, 1), (503, 2), (200, 3)]
    with pytest.raises(exceptions.NotFound):
        tasks.get_task(name=task.name)


def test_a_task_is_dropped_after_max_attempts_and_unreachable_targets_retry(fake, tasks):
    fake.tasks.max_attempts = 2
    try:
        task = tasks.create_task(parent=QUEUE, task=http_task("http://127.0.0.1:9/nothing"))
        assert fake.tasks.wait_idle(5)
    finally:
        fake.tasks.max_attempts = 5
    assert [d.status for d in fake.tasks.deliveries] == [None, None]
    assert fake.tasks.deliveries[0].error and fake.tasks.exhausted == [task.name]


def test_deleting_a_task_before_delivery_prevents_it(fake, tasks, target):
    fake.tasks.pause()
    task = tasks.create_task(parent=QUEUE, task=http_task(target.url, "cancel-me"))
    listed = list(tasks.list_tasks(parent=QUEUE))
    assert [t.name for t in listed] == [task.name] and not listed[0].http_request.body
    tasks.delete_task(name=task.name)
    with pytest.raises(exceptions.NotFound):
        tasks.delete_task(name=task.name)
    fake.tasks.resume()
    assert fake.tasks.run_due() == [] and fake.tasks.wait_idle(1)
    assert target.received == [] and fake.tasks.pending() == []
    with pytest.raises(exceptions.AlreadyExists):
        tasks.create_task(parent=QUEUE, task=http_task(target.url, "cancel-me"))


def test_duplicates_lost_tasks_and_synchronous_dispatch(fake, tasks, target):
    fake.tasks.pause()
    fake.tasks.drop_next(1)
    lost = tasks.create_task(parent=QUEUE, task=http_task(target.url, "lost"))
    kept = tasks.create_task(parent=QUEUE, task=http_task(target.url, "kept"))
    assert [t.name for t in fake.tasks.pending()] == [kept.name]
    assert fake.tasks.dropped == [lost.name]
    future = tasks.create_task(parent=QUEUE, task=http_task(target.url, "future", delay=3600))
    fake.tasks.duplicate_next(1)
    records = fake.tasks.run_due()
    assert [(r.name, r.status, r.duplicate) for r in records] == [
        (kept.name, 200, False),
        (kept.name, 200, True),
    ]
    assert len(target.received) == 2
    assert [t.name for t in fake.tasks.pending()] == [future.name]
    assert [r.name for r in fake.tasks.run_due(until=time.time() + 7200)] == [future.name]


def test_bad_task_requests_are_invalid_argument(tasks):
    with pytest.raises(exceptions.InvalidArgument):
        tasks.create_task(parent=QUEUE, task=http_task("ftp://x"))
    with pytest.raises(exceptions.InvalidArgument):
        tasks.create_task(
            parent=QUEUE,
            task={
                "name": "projects/p/locations/l/queues/other/tasks/a",
                "http_request": {"url": "http://x"},
            },
        )
    assert tasks.get_queue(name=QUEUE).state == tasks_v2.Queue.State.RUNNING


# Cloud Run -----------------------------------------------------------------------------------


def add_web(fake):
    fake.run.add_service(
        "proj",
        "europe-west1",
        "web",
        revisions=["web-00001-abc", "web-00002-def"],
        traffic=[{"revision": "web-00001-abc", "percent": 100}],
    )


def split(*entries):
    return [
        run_v2.TrafficTarget(type_=REVISION, revision=rev, percent=pct, tag=tag)
        for rev, pct, tag in entries
    ]


def test_get_and_update_service_traffic(fake, services):
    add_web(fake)
    service = services.get_service(name=SERVICE)
    assert [(t.revision, t.percent) for t in service.traffic] == [("web-00001-abc", 100)]
    assert service.latest_ready_revision == f"{SERVICE}/revisions/web-00002-def"
    service.traffic = split(("web-00001-abc", 90, ""), ("web-00002-def", 10, "canary"))
    updated = services.update_service(service=service).result(timeout=5)
    assert updated.etag != service.etag
    statuses = [(t.revision, t.percent, t.tag, t.uri) for t in updated.traffic_statuses]
    assert statuses == [
        ("web-00001-abc", 90, "", ""),
        ("web-00002-def", 10, "canary", "http://127.0.0.1:9/web/canary"),
    ]
    state = fake.run.service("proj", "europe-west1", "web")
    assert state["etag"] == updated.etag
    assert state["traffic"] == [
        {"revision": "web-00001-abc", "percent": 90, "tag": ""},
        {"revision": "web-00002-def", "percent": 10, "tag": "canary"},
    ]
    assert fake.run.updates[-1]["traffic"][1] == {
        "revision": "web-00002-def",
        "percent": 10,
        "tag": "canary",
    }


def test_stale_etag_is_aborted_and_bad_traffic_invalid(fake, services):
    add_web(fake)
    service = services.get_service(name=SERVICE)
    fake.run.external_update("proj", "europe-west1", "web")
    service.traffic = split(("web-00002-def", 100, ""))
    with pytest.raises(exceptions.Aborted, match="etag"):
        services.update_service(service=service)
    assert fake.run.updates[-1]["outcome"] == "ABORTED"
    fresh = services.get_service(name=SERVICE)
    fresh.traffic = split(("web-00001-abc", 50, ""), ("web-00002-def", 40, ""))
    with pytest.raises(exceptions.InvalidArgument):
        services.update_service(service=fresh)
    fresh.traffic = split(("web-00009-zzz", 100, ""))
    with pytest.raises(exceptions.InvalidArgument):
        services.update_service(service=fresh)
    with pytest.raises(exceptions.NotFound):
        services.get_service(name=SERVICE.replace("web", "nope"))
    fake.run.fail_next("UpdateService", "FAILED_PRECONDITION")
    fresh.traffic = split(("web-00002-def", 100, ""))
    with pytest.raises(exceptions.FailedPrecondition):
        services.update_service(service=fresh)
    assert services.update_service(service=fresh).result(timeout=5).traffic[0].percent == 100


def test_delete_revision_only_when_it_serves_no_traffic(fake, services, revisions):
    add_web(fake)
    with pytest.raises(exceptions.FailedPrecondition):
        revisions.delete_revision(name=f"{SERVICE}/revisions/web-00001-abc")
    deleted = revisions.delete_revision(name=f"{SERVICE}/revisions/web-00002-def").result(5)
    assert deleted.name == f"{SERVICE}/revisions/web-00002-def"
    assert fake.run.deleted_revisions == ["web-00002-def"]
    with pytest.raises(exceptions.NotFound):
        revisions.get_revision(name=f"{SERVICE}/revisions/web-00002-def")
    assert [r.name.rsplit("/", 1)[-1] for r in revisions.list_revisions(parent=SERVICE)] == [
        "web-00001-abc"
    ]


# Cloud Monitoring ----------------------------------------------------------------------------


def window(now, seconds=120):
    return {
        "start_time": dt.datetime.fromtimestamp(now - seconds, dt.UTC),
        "end_time": dt.datetime.fromtimestamp(now, dt.UTC),
    }


def query(metrics, now, metric, aligner, reducer, group_by, extra=""):
    return list(
        metrics.list_time_series(
            request={
                "name": "projects/proj",
                "filter": f'metric.type = "{metric}" AND resource.type = "cloud_run_revision" AND '
                f'resource.labels.service_name = "web"{extra}',
                "interval": window(now),
                "aggregation": {
                    "alignment_period": {"seconds": 120},
                    "per_series_aligner": aligner,
                    "cross_series_reducer": reducer,
                    "group_by_fields": group_by,
                },
            },
            retry=None,
        )
    )


def test_request_counts_and_percentiles_for_canary_and_stable_in_one_query(fake, metrics):
    now = time.time()
    mon = fake.monitoring
    mon.add_requests("proj", "web", "web-00002-def", now - 30, 95)
    mon.add_requests("proj", "web", "web-00002-def", now - 20, 4, "5xx")
    mon.add_requests("proj", "web", "web-00002-def", now - 20, 7, "4xx")
    mon.add_requests("proj", "web", "web-00001-abc", now - 30, 900)
    mon.add_requests("proj", "web", "web-00001-abc", now - 10, 100)
    mon.add_requests("proj", "web", "web-00001-abc", now - 500, 12345)  # outside the window
    mon.add_requests("proj", "other", "other-00001-xyz", now - 10, 50)
    mon.add_latencies("proj", "web", "web-00002-def", now - 30, [120.0] * 98 + [5700.0] * 2)
    mon.add_latencies("proj", "web", "web-00001-abc", now - 30, [80.0] * 100)

    counts = query(
        metrics,
        now,
        "run.googleapis.com/request_count",
        Aligner.ALIGN_DELTA,
        Reducer.REDUCE_SUM,
        ["resource.label.revision_name", "metric.label.response_code_class"],
        ' AND resource.labels.revision_name = one_of("web-00001-abc", "web-00002-def")',
    )
    table = {
        (ts.resource.labels["revision_name"], ts.metric.labels["response_code_class"]): sum(
            p.value.int64_value for p in ts.points
        )
        for ts in counts
    }
    assert table == {
        ("web-00001-abc", "2xx"): 1000,
        ("web-00002-def", "2xx"): 95,
        ("web-00002-def", "4xx"): 7,
        ("web-00002-def", "5xx"): 4,
    }

    p99 = query(
        metrics,
        now,
        "run.googleapis.com/request_latencies",
        Aligner.ALIGN_DELTA,
        Reducer.REDUCE_PERCENTILE_99,
        ["resource.label.revision_name"],
    )
    values = {ts.resource.labels["revision_name"]: ts.points[0].value.double_value for ts in p99}
    assert values["web-00001-abc"] == pytest.approx(80.0)
    assert 4000 < values["web-00002-def"] <= 5700.0

    dists = query(
        metrics,
        now,
        "run.googleapis.com/request_latencies",
        Aligner.ALIGN_DELTA,
        Reducer.REDUCE_SUM,
        ["resource.label.revision_name"],
    )
    canary = next(ts for ts in dists if ts.resource.labels["revision_name"] == "web-00002-def")
    dist = canary.points[0].value.distribution_value
    assert dist.count == 100 and dist.bucket_options.exponential_buckets.growth_factor == 1.4
    assert sum(dist.bucket_counts) == 100

    raw = query(
        metrics,
        now,
        "run.googleapis.com/request_count",
        Aligner.ALIGN_NONE,
        Reducer.REDUCE_NONE,
        [],
        ' AND metric.labels.response_code_class = "5xx"',
    )
    assert [
        (dict(ts.resource.labels)["location"], ts.metric.labels["response_code"]) for ts in raw
    ] == [("us-central1", "500")]


def test_scripted_windows_rates_and_percentile_aligners(fake, metrics):
    add_web(fake)
    seen = []

    def script(project, service, revision, start, end):
        seen.append((revision, (end - start).total_seconds()))
        if revision == "web-00002-def":
            return {"requests": {"2xx": 60, "5xx": 60}, "latencies_ms": [900.0] * 10}
        return {"requests": {"2xx": 240}, "latencies_ms": [50.0] * 10}

    fake.monitoring.script(script)
    now = time.time()
    rates = query(
        metrics,
        now,
        "run.googleapis.com/request_count",
        Aligner.ALIGN_RATE,
        Reducer.REDUCE_SUM,
        ["resource.label.revision_name"],
    )
    assert {
        ts.resource.labels["revision_name"]: ts.points[0].value.double_value for ts in rates
    } == {"web-00001-abc": 2.0, "web-00002-def": 1.0}
    assert ("web-00002-def", 120.0) in seen
    p95 = query(
        metrics,
        now,
        "run.googleapis.com/request_latencies",
        Aligner.ALIGN_PERCENTILE_95,
        Reducer.REDUCE_NONE,
        [],
        ' AND resource.labels.revision_name = "web-00002-def"',
    )
    assert [ts.points[0].value.double_value for ts in p95] == [pytest.approx(900.0)]
    assert p95[0].resource.labels["location"] == "europe-west1"


def test_unsupported_queries_outages_and_written_series(fake, metrics):
    now = time.time()
    for bad in (
        'metric.type = "run.googleapis.com/request_count" OR resource.type = "x"',
        'resource.type = "cloud_run_revision"',
        'metric.type = "run.googleapis.com/request_count" AND foo.bar = "x"',
    ):
        with pytest.raises(exceptions.InvalidArgument):
            metrics.list_time_series(
                request={"name": "projects/proj", "filter": bad, "interval": window(now)},
                retry=None,
            )
    with pytest.raises(exceptions.InvalidArgument, match="60 seconds"):
        list(
            metrics.list_time_series(
                request={
                    "name": "projects/proj",
                    "filter": 'metric.type = "run.googleapis.com/request_count"',
                    "interval": window(now),
                    "aggregation": {
                        "alignment_period": {"seconds": 5},
                        "per_series_aligner": Aligner.ALIGN_DELTA,
                    },
                },
                retry=None,
            )
        )
    fake.monitoring.fail_next(1)
    with pytest.raises(exceptions.ServiceUnavailable):
        query(
            metrics,
            now,
            "run.googleapis.com/request_count",
            Aligner.ALIGN_DELTA,
            Reducer.REDUCE_SUM,
            [],
        )
    assert (
        query(
            metrics,
            now,
            "run.googleapis.com/request_count",
            Aligner.ALIGN_DELTA,
            Reducer.REDUCE_SUM,
            [],
        )
        == []
    )
    fake.monitoring.fail_all(True)
    for _ in range(2):
        with pytest.raises(exceptions.ServiceUnavailable):
            query(
                metrics,
                now,
                "run.googleapis.com/request_count",
                Aligner.ALIGN_DELTA,
                Reducer.REDUCE_SUM,
                [],
            )
    fake.monitoring.fail_all(False)

    series = monitoring_v3.TimeSeries(
        metric={
            "type": "custom.googleapis.com/deployq/canary_traffic_percent",
            "labels": {"service": "web"},
        },
        resource={"type": "global", "labels": {"project_id": "proj"}},
        points=[
            {
                "interval": {"end_time": dt.datetime.fromtimestamp(now - 5, dt.UTC)},
                "value": {"int64_value": 10},
            }
        ],
    )
    metrics.create_time_series(name="projects/proj", time_series=[series])
    written = fake.monitoring.written[-1]
    assert (written["metric_type"], written["metric_labels"], written["value"]) == (
        "custom.googleapis.com/deployq/canary_traffic_percent",
        {"service": "web"},
        10,
    )
    back = list(
        metrics.list_time_series(
            request={
                "name": "projects/proj",
                "filter": 'metric.type = "custom.googleapis.com/deployq/canary_traffic_percent"',
                "interval": window(now),
            }
        )
    )
    assert back[0].points[0].value.int64_value == 10


# Server --------------------------------------------------------------------------------------


def test_calls_are_counted_per_method(fake, tasks, services):
    add_web(fake)
    services.get_service(name=SERVICE)
    services.get_service(name=SERVICE)
    tasks.get_queue(name=QUEUE)
    assert fake.calls["google.cloud.run.v2.Services/GetService"] == 2
    assert fake.calls["google.cloud.tasks.v2.CloudTasks/GetQueue"] == 1
    fake.reset_calls()
    assert sum(fake.calls.values()) == 0


def test_process_mode_serves_until_sigterm(tmp_path, key):
    pem = tmp_path / "key.pem"
    pem.write_bytes(key[0])
    seed = tmp_path / "seed.json"
    seed.write_text(
        '{"services": [{"project": "proj", "region": "europe-west1", '
        '"service": "web", "revisions": ["web-00001-abc"]}]}'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes",
            "--port",
            "0",
            "--private-key",
            str(pem),
            "--kid",
            "k1",
            "--seed",
            str(seed),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("fake google apis listening on 127.0.0.1:")
        address = line.rsplit(" ", 1)[-1]
        with grpc.insecure_channel(address) as chan:
            client = run_v2.ServicesClient(
                transport=run_v2.services.services.transports.ServicesGrpcTransport(channel=chan)
            )
            assert client.get_service(name=SERVICE).traffic[0].revision == "web-00001-abc"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
