"""The queue service's pure rules: patches, skips, rollback sources, approval decisions."""

import pytest

from shared.auth import Principal
from shared.deployments import rules
from shared.errors import Conflict, NotFound
from shared.governance.approvals import APPROVED, REJECTED, decided
from shared.lazy import Lazy
from shared.models.deployment import Status
from shared.models.policy import with_defaults
from shared.schemas.deployment import DeploymentPatch

NOW = "2026-01-02T03:04:05.000000Z"
WEB = {"name": "web", "provider": "gcp", "cloud_account_id": "p", "region": "eu", "type": "k8s"}


def record(version="1", **fields):
    base = rules.new_record(
        "acme", {**WEB, "version": version}, Principal("local", "t", "acme", "admin")
    )
    return {**base, **fields}


def test_a_new_record_is_scheduled_with_its_taxonomy_and_trigger():
    made = rules.new_record(
        "acme", {**WEB, "version": "1", "auto": False}, Principal("local", "t", "acme", "admin")
    )
    assert made["status"] == "scheduled" and made["trigger"] == "manual"
    assert made["cell"] is None and made["taxonomy_key"]
    assert made["created_at"] == made["updated_at"] == made["status_changed_at"]


@pytest.mark.parametrize(
    ("patch", "changes"),
    [
        ({"status": Status.scheduled}, False),
        ({"notes": None}, False),
        ({"notes": "n"}, True),
        ({"status": Status.deployed}, True),
    ],
)
def test_a_patch_that_changes_nothing_returns_the_record_itself(patch, changes):
    before = record()
    after = rules.patched(before, DeploymentPatch(**patch), NOW)
    assert (after is not before) is changes


def test_deploying_stamps_the_times():
    after = rules.patched(record(), DeploymentPatch(status=Status.deployed), NOW)
    assert after["status"] == "deployed"
    assert after["deployed_at"] == after["status_changed_at"] == after["updated_at"] == NOW
    assert rules.change_type(record(), after) == rules.STATUS_CHANGED


def test_only_scheduled_records_are_skipped_and_their_notes_say_why():
    winner = record("2")
    skipped = rules.skipped(record(notes="first"), winner, NOW, "claimed")
    assert skipped["status"] == "skipped"
    assert skipped["notes"] == (
        f"first\nSkipped: superseded by deployment {winner['id']} (version 2, claimed)"
    )
    assert rules.skipped(record(status="failed"), winner, NOW, "deployed") is None


def test_an_illegal_move_is_a_conflict():
    with pytest.raises(Conflict) as caught:
        rules.check_move(record(status="failed"), Status.deployed)
    assert caught.value.code == "invalid_transition"


def history(*entries):
    return [
        record(version, id=f"d{i}", status="deployed", deployed_at=f"2026-01-0{9 - i}")
        for i, version in enumerate(entries)
    ]


@pytest.mark.parametrize(
    ("versions", "target", "expected"),
    [
        (("2", "2", "1"), None, "d2"),  # redeploys of the current version are passed over
        (("2", "1", "1"), None, "d1"),  # the newest record of the previous version
        (("2", "2", "1"), "2", "d1"),  # a target version: any earlier record of it
    ],
)
def test_the_rollback_source(versions, target, expected):
    records = history(*versions)
    assert rules.rollback_source(iter(records), records[0], target)["id"] == expected


def test_no_rollback_source_is_not_found():
    records = history("2", "2")
    with pytest.raises(NotFound, match="no earlier deployed version"):
        rules.rollback_source(iter(records), records[0], None)


def test_a_rollback_copies_its_source_and_names_both():
    source, current = record("1", id="s"), record("2", id="c")
    fields = rules.rollback_fields(source, current)
    assert fields["trigger"] == "rollback" and fields["version"] == "1"
    assert fields["source_deployment_id"] == "s" and fields["rollback_from_deployment_id"] == "c"
    assert fields["notes"] == "Rollback from 2 (c) to 1 (s)"
    assert (
        rules.replaces(rules.new_record("acme", fields, Principal("local", "t", "acme", "admin")))
        == "c"
    )


def test_approvals_count_people_once_and_reach_the_minimum():
    policy = with_defaults({"requires_approval": True, "min_approvals": 2})
    pending = record(approval_status="pending", approvals=[])
    once = decided(pending, policy, "ann", APPROVED, None, NOW)
    assert once["approval_status"] == "pending" and len(once["approvals"]) == 1
    assert decided(once, policy, "ANN", APPROVED, None, NOW) is None
    twice = decided(once, policy, "bob", APPROVED, "ok", NOW)
    assert twice["approval_status"] == "approved"
    with pytest.raises(Conflict):
        decided(twice, policy, "cy", APPROVED, None, NOW)


def test_a_rejection_skips_the_deployment_with_the_reason_in_its_notes():
    pending = record(approval_status="pending", approvals=[])
    after = decided(pending, with_defaults(None), "ann", REJECTED, "not today", NOW)
    assert after["status"] == "skipped" and after["approval_status"] == "rejected"
    assert after["notes"] == "Rejected by ann: not today"


def test_lazy_makes_a_value_once_per_key():
    made = []
    lazy = Lazy(lambda name, size=1: made.append(name) or f"{name}:{size}", key=lambda n, s=1: n)
    assert lazy("a") == lazy("a", 2) == "a:1" and lazy("b") == "b:1"
    assert made == ["a", "b"]
