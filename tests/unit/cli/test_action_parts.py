"""The Action's parts without a server: inputs, GITHUB_OUTPUT, the job summary, the check
line, and the example workflows' use of the Action's inputs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from cli.action.github import Workflow
from cli.action.main import COMMANDS, Inputs, main
from cli.action.summary import canary_summary, check_line
from cli.errors import UsageError
from cli.flow import canary_timeout_seconds, rejection_reason
from tests.support.actions import read_outputs

ROOT = Path(__file__).resolve().parents[3]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
CHECKS = [
    {
        "number": 1,
        "at": "2026-01-01T00:01:00.000000Z",
        "traffic_percent": 10,
        "request_count": 120,
        "error_rate_pct": 0.0,
        "p95_ms": 80.0,
        "p99_ms": 95.5,
        "stable": {"request_count": 900, "error_rate_pct": 0.1, "p95_ms": 70.0, "p99_ms": None},
        "verdict": "Healthy",
        "reason": "all figures within thresholds",
    },
    {
        "number": 2,
        "at": "2026-01-01T00:02:00.000000Z",
        "traffic_percent": 10,
        "request_count": 130,
        "error_rate_pct": 12.5,
        "p95_ms": 90.0,
        "p99_ms": 120.0,
        "stable": {"request_count": 950, "error_rate_pct": 0.1, "p95_ms": 71.0, "p99_ms": 88.0},
        "verdict": "Unhealthy",
        "reason": "error rate 12.5% > 1% | spike",
    },
]
CANARY = {
    "id": "c-1",
    "status": "rolled_back",
    "reason": "Unhealthy: error rate 12.5% > 1%",
    "service": "web",
    "canary_revision": "web-2",
    "stable_revision": "web-1",
    "strategy": "canary",
    "steps": [10, 50],
    "project": "p",
    "region": "r",
    "checks": CHECKS,
}


def test_inputs_are_read_as_the_runner_names_them():
    inputs = Inputs({"INPUT_API_URL": " https://x ", "INPUT_SKIP-CANARY": "true", "INPUT_N": ""})
    assert inputs.get("api-url") == "https://x"
    assert inputs.flag("skip-canary") is True
    assert inputs.get("n", "default") == "default"
    with pytest.raises(UsageError, match="min-requests must be a whole number"):
        Inputs({"INPUT_MIN_REQUESTS": "1.5"}).integer("min-requests")
    with pytest.raises(UsageError, match="strategy must be one of"):
        Inputs({"INPUT_STRATEGY": "yolo"}).choice("strategy", ("canary",))


def test_outputs_are_lines_or_heredocs(tmp_path):
    path = tmp_path / "out"
    workflow = Workflow({"GITHUB_OUTPUT": str(path)}, io.StringIO())
    workflow.output("status", "promoted")
    workflow.output("reason", "two\nlines")
    assert read_outputs(path) == {"status": "promoted", "reason": "two\nlines"}


def test_annotations_are_escaped_to_one_line():
    out = io.StringIO()
    Workflow({}, out).error("50% failed\nsecond line", title="deployq: canary")
    assert out.getvalue() == "::error title=deployq%3A canary::50%25 failed%0Asecond line\n"


def test_the_summary_has_every_check_and_charts_of_canary_vs_stable():
    text = canary_summary(CANARY, "d-1")
    assert "rolled_back" in text and "deployment `d-1`" in text
    assert "| 1 | 2026-01-01T00:01:00.000000Z | 10% | 120 / 900 | 0% / 0.1% |" in text
    assert "error rate 12.5% > 1% \\| spike" in text  # a | in a reason keeps the table whole
    assert text.count("xychart-beta") == 3
    assert 'x-axis "check" ["1", "2"]' in text
    assert "line [0, 12.5]" in text and "line [0.1, 0.1]" in text
    assert "line [0, 88]" in text  # the stable p99 that could not be read is drawn as 0
    assert "No check ran." in canary_summary({**CANARY, "checks": []})


def test_a_check_line_names_traffic_both_revisions_verdict_and_reason():
    line = check_line(CHECKS[1])
    assert line == (
        "check 2 at 10% traffic: canary 12.5% errors, p95 90 ms, p99 120 ms (130 requests) | "
        "stable 0.1% errors, p95 71 ms, p99 88 ms -> Unhealthy: error rate 12.5% > 1% | spike"
    )


def test_rejection_reason_and_canary_timeout():
    deployment = {
        "approvals": [
            {"actor": "a@x", "decision": "approved"},
            {"actor": "b@x", "decision": "rejected", "comment": "freeze"},
        ]
    }
    assert rejection_reason(deployment) == "rejected by b@x: freeze"
    assert canary_timeout_seconds({"steps": [10, 50], "step_minutes": 1}) == (2 + 15) * 60
    assert canary_timeout_seconds({"strategy": "all_at_once", "steps": [10, 50]}) == 30 * 60


def test_an_unknown_command_fails_the_step_in_one_line():
    out = io.StringIO()
    assert main({"INPUT_COMMAND": "deploy", "INPUT_API_URL": "https://x"}, out) == 1
    assert out.getvalue().startswith("::error title=deployq::command must be one of create,")


def test_every_input_reaches_the_program():
    [call] = [s for s in ACTION["runs"]["steps"] if s.get("id") == "call"]
    passed = {k for k in call["env"] if k.startswith("INPUT_")}
    assert passed == {"INPUT_" + name.upper().replace("-", "_") for name in ACTION["inputs"]}


@pytest.mark.parametrize("example", sorted((ROOT / "examples" / "github").glob("*.yml")))
def test_the_examples_use_only_inputs_the_action_declares(example):
    workflow = yaml.safe_load(example.read_text())
    uses = [
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").endswith("/deployq@v1")
    ]
    assert uses
    for step in uses:
        given = set(step.get("with") or {})
        assert given <= set(ACTION["inputs"]), given - set(ACTION["inputs"])
        assert "api-url" in given
        assert step["with"].get("command", "create") in COMMANDS + ("",)
