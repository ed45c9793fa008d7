"""The events function writes one log line per counted event, matching the log-based metrics
of terraform/monitoring.tf (filter, label and value extractors) and docs/deploy.md section 5."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import hcl2
import pytest

from shared.events import build_event
from tests.support.governance import deliver, drain

MONITORING_TF = Path(__file__).resolve().parents[3] / "terraform" / "monitoring.tf"
SPEC_FIELDS = {"severity", "message", "metric", "event_type", "event_id"}
SPEC_FIELDS |= {"organisation", "service", "environment"}


def log_metrics() -> dict[str, dict]:
    """Each log-based metric by its line's `metric`: the jsonPayload fields its filter requires
    equal, its label fields and its value field (distributions)."""
    parsed = hcl2.load(MONITORING_TF.open())
    local = {k: v for block in parsed["locals"] for k, v in block.items()}
    resources = {
        name: body
        for block in parsed["resource"]
        for kind, named in block.items()
        if kind == "google_logging_metric"
        for name, body in named.items()
    }
    labels = list(local["metric_labels"])
    extractor = re.fullmatch(
        r'\$\{\{for label in keys\(local\.metric_labels\) : label => "EXTRACT\(jsonPayload\.'
        r'\$\{label\}\)"\}\}',
        resources["counter"]["label_extractors"],
    )
    assert extractor, resources["counter"]["label_extractors"]
    assert resources["distribution"]["label_extractors"] == resources["counter"]["label_extractors"]
    base = local["metric_log_filter"]
    assert 'resource.labels.service_name="${var.name_prefix}events"' in base
    assert 'log_id("run.googleapis.com/stdout")' in base
    metrics = {}
    for kind, names in (
        ("counter", local["log_counters"]),
        ("distribution", local["log_distributions"]),
    ):
        for name, spec in names.items():
            text = resources[kind]["filter"].replace("${each.key}", name)
            required = dict(re.findall(r'jsonPayload\.(\w+)="([^"]*)"', text))
            value = None
            if kind == "distribution":
                value = re.fullmatch(
                    r"EXTRACT\(jsonPayload\.(\w+)\)",
                    resources[kind]["value_extractor"].replace(
                        "${each.value.field}", spec["field"]
                    ),
                ).group(1)
            metrics[name] = {"required": required, "labels": labels, "value": value}
    return metrics


@pytest.fixture
def stdout(events):
    """What the events function writes to stdout from now on (its JSON log handler's stream)."""
    from shared.logs import JsonFormatter

    handlers = [
        h for h in logging.getLogger("deployq").handlers if isinstance(h.formatter, JsonFormatter)
    ]
    assert handlers, "the events function configures its structured logger on import"
    buffer = io.StringIO()
    previous = [h.setStream(buffer) for h in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous, strict=True):
        handler.setStream(stream)


def metric_lines(out: str) -> list[dict]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if "metric" in line]


def canary_events():
    """A canary's life as the canary function records it: created, started, a step, promoted;
    and a second one rolled back."""
    base = {
        "id": "c1",
        "organisation": "acme",
        "status": "progressing",
        "service": "api",
        "environment": "production",
        "traffic_percent": 0,
        "started_at": None,
        "ended_at": None,
        "created_at": "2026-03-01T00:00:00Z",
    }
    started = {**base, "traffic_percent": 10, "started_at": "2026-03-01T00:01:00Z"}
    step = {**started, "traffic_percent": 50}
    promoted = {**step, "status": "promoted", "traffic_percent": 100}
    promoted["ended_at"] = "2026-03-01T00:16:00Z"
    other = {**started, "id": "c2", "service": "batch", "environment": None}
    rolled_back = {**other, "status": "rolled_back", "traffic_percent": 0}
    rolled_back["ended_at"] = "2026-03-01T00:03:30Z"
    changes = [
        ("deployq.canary.created", None, base),
        ("deployq.canary.traffic_changed", base, started),
        ("deployq.canary.traffic_changed", started, step),
        ("deployq.canary.status_changed", step, promoted),
        ("deployq.canary.status_changed", other, rolled_back),
    ]
    return [
        build_event("acme", kind, f"canaries/{after['id']}", before, after)
        for kind, before, after in changes
    ]


def test_one_line_per_counted_event_as_terraform_reads_it(
    stdout, deployments, db, events, as_, create
):
    first = create("1")
    url = f"/v1/deployments/{first['id']}"
    deployments.patch(url, json={"status": "in_progress"}, headers=as_("deployer"))
    deployments.patch(url, json={"status": "deployed"}, headers=as_("deployer"))
    second = create("2")
    deployments.patch(
        f"/v1/deployments/{second['id']}", json={"status": "failed"}, headers=as_("deployer")
    )
    third = create("3")
    url = f"/v1/deployments/{third['id']}"
    deployments.patch(url, json={"status": "deployed"}, headers=as_("deployer"))
    rollback = deployments.post(f"{url}/rollback", headers=as_("deployer"))
    assert rollback.status_code == 201
    canaries = canary_events()
    stdout.seek(0)
    stdout.truncate()
    for _ in range(2):  # Pub/Sub redelivers: nothing counts twice
        delivered = drain(db, events)
        for event in canaries:
            assert deliver(events, event).status_code == 200
    lines = metric_lines(stdout.getvalue())

    counted = [(line["metric"], line["event_id"]) for line in lines]
    assert len(counted) == len(set(counted)), counted
    by_metric: dict[str, list[dict]] = {}
    for line in lines:
        by_metric.setdefault(line["metric"], []).append(line)
    assert {name: len(found) for name, found in by_metric.items()} == {
        "deployment_started": 1,
        "deployment_success": 2,
        "deployment_duration": 3,
        "deployment_rollback": 1,
        "canary_rollouts_started": 1,
        "canary_traffic_percent": 4,
        "canary_rollouts_succeeded": 1,
        "canary_rollouts_rolled_back": 1,
        "canary_duration": 2,
    }

    spec = log_metrics()
    assert set(spec) == set(by_metric)
    ids = {event["id"]: event["type"] for event in delivered + canaries}
    for line in lines:
        metric = spec[line["metric"]]
        assert all(line.get(k) == v for k, v in metric["required"].items()), line
        assert all(isinstance(line[label], str) for label in metric["labels"]), line
        expected = SPEC_FIELDS | ({metric["value"]} if metric["value"] else set())
        assert set(line) == expected, line
        if metric["value"]:
            value = line[metric["value"]]
            assert isinstance(value, (int, float)) and not isinstance(value, bool), line
        assert line["severity"] == "INFO" and line["message"] == f"metric {line['metric']}"
        assert ids[line["event_id"]] == line["event_type"]
        assert line["organisation"] == "acme"

    success = by_metric["deployment_success"][0]
    assert (success["service"], success["environment"]) == ("web", "production")
    durations = sorted(line["duration_seconds"] for line in by_metric["canary_duration"])
    assert durations == [150.0, 900.0]
    rolled = by_metric["canary_rollouts_rolled_back"][0]
    assert (rolled["service"], rolled["environment"]) == ("batch", "")
    assert sorted(line["traffic_percent"] for line in by_metric["canary_traffic_percent"]) == [
        0,
        10,
        50,
        100,
    ]
