"""Inputs a fuzzer found: ids Firestore reserves, huge offsets, organisations that are paths."""

import pytest

from tests.conftest import make_client


@pytest.fixture
def packages(base_env):
    return make_client("packages")


@pytest.mark.parametrize("job_id", ["__main__", "__x__", "..", "a" * 300])
def test_reserved_job_ids_are_404(packages, google_headers, job_id):
    headers = google_headers()
    for method in ("GET", "DELETE"):
        response = packages.open(f"/v1/jobs/{job_id}", method=method, headers=headers)
        assert response.status_code == 404, response.get_data(as_text=True)
        assert response.json["code"] == "not_found"


@pytest.mark.parametrize("path", ["/v1/packages", "/v1/package-deployments"])
def test_offsets_past_the_limit_are_400(packages, google_headers, path):
    response = packages.get(f"{path}?offset=22881337924", headers=google_headers())
    assert response.status_code == 400
    assert response.json["details"][0]["field"] == "offset"


def test_internal_bodies_cannot_name_a_path_as_organisation(base_env, internal_headers):
    worker = make_client("worker")
    response = worker.post(
        "/tasks/run",
        json={"job_id": "0b4c8f8e-1111-4222-8333-444455556666", "organisation": "a/b/c"},
        headers=internal_headers,
    )
    assert response.status_code == 400
    assert response.json["details"][0]["field"] == "organisation"
    canary = make_client("canary")
    response = canary.post(
        "/v1/canaries/0b4c8f8e-1111-4222-8333-444455556666:check",
        json={"organisation": "\u0013/x"},
        headers=internal_headers,
    )
    assert response.status_code == 400
