"""Canaries only on the organisation's granted Cloud Run services, checked before any call."""

from __future__ import annotations

from tests.support.canary import PROJECT, REGION, canary_body
from tests.support.organisations import grant


def refused(response) -> None:
    assert response.status_code == 403, response.json
    assert response.json["code"] == "service_not_granted"


def test_only_granted_services_and_no_cloud_run_call_before_the_check(
    canaries, fake, service, identity, google_headers, canary_env
):
    project = canary_env["GOOGLE_CLOUD_PROJECT"]
    grant(
        project,
        "globex",
        cloud_run_services=["projects/globex-run/locations/europe-west1/services/web"],
    )
    fake.run.add_service("globex-run", REGION, "web", revisions=["web-1", "web-2"])
    before = fake.run.service(PROJECT, REGION, "web")
    # Any Cloud Run call would now fail with 503: a refusal must come before the first one.
    fake.run._failures.fail_all(None, "UNAVAILABLE")
    acme = google_headers()
    globex_service = canary_body("web", "web-2", project="globex-run")
    refused(canaries.post("/v1/canaries", json=globex_service, headers=acme))
    # A free GitHub owner (no record) has no services at all.
    free = {"Authorization": f"Bearer {identity.github_token('freebie')}"}
    refused(canaries.post("/v1/canaries", json=canary_body("web", "web-2"), headers=free))
    # Globex: the same service name in acme's project is not globex's.
    globex = {"Authorization": f"Bearer {identity.github_token('globex')}"}
    refused(canaries.post("/v1/canaries", json=canary_body("web", "web-2"), headers=globex))
    fake.run._failures.clear()
    assert fake.run.service(PROJECT, REGION, "web")["traffic"] == before["traffic"]
    # The granted one works.
    started = canaries.post("/v1/canaries", json=canary_body("web", "web-2"), headers=acme)
    assert started.status_code == 201, started.json


def test_a_prefix_pattern_grants_matching_services_only(canaries, fake, google_headers, canary_env):
    grant(
        canary_env["GOOGLE_CLOUD_PROJECT"],
        cloud_run_services=[f"projects/{PROJECT}/locations/{REGION}/services/shop-*"],
    )
    one = [{"revision": "a-1", "percent": 100}]
    fake.run.add_service(PROJECT, REGION, "shop-api", revisions=["a-1", "a-2"], traffic=one)
    fake.run.add_service(PROJECT, REGION, "web", revisions=["web-1", "web-2"])
    acme = google_headers()
    refused(canaries.post("/v1/canaries", json=canary_body("web", "web-2"), headers=acme))
    started = canaries.post("/v1/canaries", json=canary_body("shop-api", "a-2"), headers=acme)
    assert started.status_code == 201, started.json
