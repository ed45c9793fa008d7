"""The queue's pure rules: status machine, taxonomy, request models, page tokens."""

import pytest
from pydantic import ValidationError

from shared.errors import BadRequest
from shared.models.deployment import Status, taxonomy_key, transition_error
from shared.schemas.deployment import DeploymentCreate, DeploymentPatch, ListQuery, RollbackQuery
from shared.store.deployments import decode_page_token, encode_page_token

S = Status

ALLOWED = {
    (S.scheduled, S.in_progress),
    (S.scheduled, S.deployed),
    (S.scheduled, S.skipped),
    (S.scheduled, S.failed),
    (S.in_progress, S.deployed),
    (S.in_progress, S.failed),
}


@pytest.mark.parametrize("current", list(Status))
@pytest.mark.parametrize("target", list(Status))
def test_status_machine_allows_exactly_the_documented_moves(current, target):
    problem = transition_error(current, target)
    if current == target or (current, target) in ALLOWED:
        assert problem is None
    else:
        assert problem and current.value in problem and target.value in problem


def test_rolled_back_is_set_only_by_the_system():
    assert "only deployq" in transition_error(S.deployed, S.rolled_back)


BASE = {"name": "api", "provider": "gcp", "cloud_account_id": "p1", "region": "eu", "cell": None}


@pytest.mark.parametrize(
    "other, same",
    [
        ({}, True),
        ({"cell": "c1"}, False),
        ({"region": None}, False),
        ({"name": "api2"}, False),
        ({"provider": "aws"}, False),
        ({"environment": "production"}, True),  # environment is not part of the taxonomy
        ({"version": "2"}, True),
    ],
)
def test_taxonomy_key(other, same):
    assert (taxonomy_key({**BASE, **other}) == taxonomy_key(BASE)) is same


def test_taxonomy_null_differs_from_text_null():
    assert taxonomy_key({**BASE, "cell": None}) != taxonomy_key({**BASE, "cell": "None"})
    assert taxonomy_key({**BASE, "cell": None}) != taxonomy_key({**BASE, "cell": "null"})


def test_create_requires_the_four_fields_and_rejects_wrong_types():
    with pytest.raises(ValidationError) as caught:
        DeploymentCreate.model_validate({"name": "a"})
    missing = {e["loc"][0] for e in caught.value.errors()}
    assert missing == {"version", "provider", "type"}
    for bad in (
        {"name": 5},
        {"auto": "yes"},
        {"provider": "gcpx"},
        {"type": "vm"},
        {"name": ""},
        {"name": "x" * 300},
        {"commit_timestamp": "yesterday"},
    ):
        with pytest.raises(ValidationError):
            DeploymentCreate.model_validate(
                {"name": "a", "version": "1", "provider": "gcp", "type": "k8s", **bad}
            )


def test_create_ignores_server_owned_fields_and_normalises_commit_time():
    body = DeploymentCreate.model_validate(
        {
            "name": "a",
            "version": "1",
            "provider": "gcp",
            "type": "k8s",
            "id": "x",
            "status": "deployed",
            "organisation": "evil",
            "commit_timestamp": "2026-01-02T04:04:05+01:00",
        }
    )
    dumped = body.model_dump()
    assert "status" not in dumped and "organisation" not in dumped and "id" not in dumped
    assert body.commit_timestamp == "2026-01-02T03:04:05.000000Z"


def test_patch_forbids_other_fields():
    with pytest.raises(ValidationError):
        DeploymentPatch.model_validate({"status": "deployed", "version": "2"})
    assert DeploymentPatch.model_validate({"notes": "x"}).model_fields_set == {"notes"}


def test_list_query_filters_only_given_fields_and_empty_means_null():
    query = ListQuery.model_validate({"status": "scheduled", "cell": "", "limit": "5"})
    assert query.filters() == {"status": "scheduled", "cell": None}
    assert query.limit == 5
    for bad in ({"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"status": "nope"}):
        with pytest.raises(ValidationError):
            ListQuery.model_validate(bad)


def test_rollback_query_requires_the_taxonomy_and_maps_empty_to_null():
    with pytest.raises(ValidationError) as caught:
        RollbackQuery.model_validate({"name": "a", "provider": "gcp", "region": "eu"})
    assert [e["loc"][0] for e in caught.value.errors()] == ["cloud_account_id"]
    query = RollbackQuery.model_validate(
        {"name": "a", "provider": "gcp", "cloud_account_id": "p", "region": ""}
    )
    assert query.taxonomy()["region"] is None


def test_page_token_round_trip_and_garbage():
    record = {
        "created_at": "2026-01-02T03:04:05.123456Z",
        "id": "0b4c8f8e-1111-4222-8333-444455556666",
    }
    assert decode_page_token(encode_page_token(record)) == (record["created_at"], record["id"])
    for garbage in ("", "abc", "W10", "WyJ4IiwgInkiXQ", "%%%"):
        with pytest.raises(BadRequest):
            decode_page_token(garbage)


def test_the_public_view_has_the_response_schema_fields_in_order():
    from shared.models.deployment import PUBLIC_FIELDS
    from shared.schemas.deployment import Deployment

    assert PUBLIC_FIELDS == tuple(Deployment.model_fields)
