"""The console in headless Chromium: what a person sees and does, checked against the API."""

from __future__ import annotations

import csv
import io
import json
import sys

from playwright.sync_api import expect

from tests.browser.conftest import open_page, shot
from tests.support.waiting import wait_for


def deployments(stack, **params) -> list[dict]:
    response = stack.api("deployments", "GET", "/v1/deployments", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_queue_lists_the_seeded_deployments(page, stack):
    open_page(page, stack, "queue")
    newest = deployments(stack)[:5]
    for record in newest:
        expect(page.locator(f"a[href='#/deployments/{record['id']}']").first).to_be_visible()
    section = page.get_by_role("region", name="api / gcp / acme-prod / europe-west1 / ·")
    expect(section.get_by_text("Deployed:")).to_be_visible()
    expect(page.locator(".badge[data-status=rolled_back]").first).to_contain_text("rolled back")
    shot(page, "queue")


def test_marking_one_deployed_shows_the_older_ones_skipped(page, stack):
    waiting = [
        d
        for d in deployments(stack, name="worker", status="scheduled")
        if d["environment"] == "staging"
    ]
    assert len(waiting) == 3
    newest, older = waiting[0], waiting[1:]
    open_page(page, stack, f"deployments/{newest['id']}")
    page.get_by_role("button", name="Mark deployed").click()
    expect(page.locator("dl.facts .badge").first).to_have_text("✓ deployed")
    shot(page, "deployment")
    for record in older:
        open_page(page, stack, f"deployments/{record['id']}")
        expect(page.locator("dl.facts .badge").first).to_have_text("– skipped")
        expect(page.locator("dl.facts")).to_contain_text(newest["id"])
    # The history shows the skip once the audit entry arrives.
    page.reload()
    expect(page.locator("ol.history")).to_contain_text("skipped", timeout=20_000)
    shot(page, "deployment-skipped")


def test_approve_from_the_inbox_moves_the_item_out(page, stack):
    pending = stack.ids["pending"][1]
    open_page(page, stack, "approvals")
    row = page.locator("tr", has=page.locator(f"a[href='#/deployments/{pending}']"))
    expect(row).to_be_visible()
    shot(page, "approvals")
    row.get_by_label("Comment").fill("looks good")
    row.get_by_role("button", name="Approve").click()
    expect(page.locator(f"a[href='#/deployments/{pending}']")).to_have_count(0)
    record = stack.api("deployments", "GET", f"/v1/deployments/{pending}").json()
    assert record["approval_status"] == "approved"
    assert record["approvals"][0]["comment"] == "looks good"


def test_a_refused_action_shows_the_api_sentence(page, stack):
    pending = stack.ids["pending"][0]
    refused = stack.api(
        "deployments", "PATCH", f"/v1/deployments/{pending}", json={"status": "deployed"}
    )
    assert refused.status_code == 409
    open_page(page, stack, f"deployments/{pending}")
    page.get_by_role("button", name="Mark deployed").click()
    expect(page.get_by_role("alert")).to_have_text(f"Refused: {refused.json()['error']}")


def me_as(page, role: str) -> None:
    """The console as a person of this role: `GET /v1/me` answers it, and the approval inbox's
    `can_approve` is what the API answers such a person (a viewer may approve nothing here; the
    local stack's real caller is an admin)."""
    body = {"kind": "google", "organisation": "acme", "actor": f"{role}@example.com", "role": role}
    page.route(
        "**/v1/me",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": "*"},
            body=json.dumps(body),
        ),
    )
    if role != "viewer":
        return

    def inbox(route):
        answer = route.fetch()
        items = answer.json() if answer.ok else None
        if not isinstance(items, list):
            return route.fulfill(response=answer)
        for item in items:
            item["can_approve"] = False
        return route.fulfill(response=answer, body=json.dumps(items))

    page.route("**/v1/approvals*", inbox)


def test_a_viewer_sees_no_action_buttons(page, stack):
    me_as(page, "viewer")
    pending = stack.ids["pending"][0]
    for route in (f"deployments/{pending}", "approvals", "packages"):
        open_page(page, stack, route)
        expect(page.locator("#role")).to_contain_text("viewer")
        expect(page.locator("main h1")).to_be_visible()
        for name in ("Approve", "Reject", "Roll back", "Mark deployed", "Mark failed"):
            expect(page.get_by_role("button", name=name)).to_have_count(0)
    shot(page, "viewer-deployment")


def test_a_deployer_sees_the_buttons_its_role_allows(page, stack):
    me_as(page, "deployer")
    open_page(page, stack, f"deployments/{stack.ids['pending'][0]}")
    expect(page.locator("#role")).to_contain_text("deployer")
    expect(page.get_by_role("button", name="Roll back")).to_be_visible()
    expect(page.get_by_role("button", name="Mark failed")).to_be_visible()


def test_canaries_promote_and_roll_back_on_the_page(page, stack):
    sys.path.insert(0, str(stack_root()))
    from scripts.demo import Http, start_canaries

    started = start_canaries(Http(stack.urls), stack.ids, step_minutes=0.05, interval_seconds=1)
    open_page(page, stack, f"canaries/{started['web']}")
    expect(page.get_by_role("progressbar", name="canary traffic")).to_be_visible()
    expect(page.locator("ol.step-list li")).to_have_count(4)
    expect(page.locator("figure.chart-box svg")).to_have_count(3)
    expect(page.locator("figure.chart-box line.threshold")).to_have_count(3)
    expect(page.locator("table tbody tr").first).to_contain_text("Healthy", timeout=20_000)
    shot(page, "canary-progressing")
    expect(page.locator(".status-line .badge")).to_have_text("✓ promoted", timeout=60_000)
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    shot(page, "canary-promoted")

    open_page(page, stack, f"canaries/{started['api']}")
    expect(page.locator(".status-line .badge")).to_have_text("✕ rolled back", timeout=60_000)
    record = stack.api("canary", "GET", f"/v1/canaries/{started['api']}").json()
    assert "error rate" in record["reason"]
    expect(page.locator("#reason")).to_have_text(f"Reason: {record['reason']}")
    expect(page.locator("table tbody tr").first).to_contain_text("Unhealthy")
    shot(page, "canary-rolled-back")
    open_page(page, stack, "canaries")
    shot(page, "canaries")


def stack_root():
    from tests.support.console import ROOT

    return ROOT


def test_dora_figures_equal_the_api(page, stack):
    def figures():
        return stack.api("deployments", "GET", "/v1/metrics/dora", params={"days": 30}).json()

    expected = figures()
    open_page(page, stack, "dora?days=30")

    # Figures may trail a change by seconds: reload until the page and the API agree.
    def agree():
        nonlocal expected
        expected = figures()
        page.reload()
        page.wait_for_selector(".tile[data-key=deployment_frequency]")
        freq = expected["deployment_frequency"]
        shown = page.locator(".tile[data-key=deployment_frequency] .value").inner_text()
        return shown == f"{freq['deployments']} ({freq['per_day']}/day)"

    wait_for(agree, timeout=30, interval=1, what="DORA page to equal the API")
    for key in ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore"):
        bucket = expected[key]["bucket"]
        expect(page.locator(f".tile[data-key={key}] .bucket")).to_have_text(
            f"Bucket: {bucket if bucket is not None else 'no data'}"
        )
    cfr = expected["change_failure_rate"]
    expect(page.locator(".tile[data-key=change_failure_rate] .note")).to_have_text(
        f"{cfr['failed']} failed, {cfr['rolled_back']} rolled back of {cfr['finished']} finished"
    )
    by_service = stack.api(
        "deployments", "GET", "/v1/metrics/dora/by-service", params={"days": 30}
    ).json()
    for group in by_service:
        row = page.locator("table").nth(0).locator("tr", has_text=group["key"])
        expect(row).to_contain_text(str(group["deployment_frequency"]["deployments"]))
    expect(page.locator("figure.chart-box rect.bar").first).to_be_visible()
    shot(page, "dora")


def test_csv_download_holds_the_filtered_entries(page, stack):
    action = "deployq.deployment.created"
    open_page(page, stack, "audit")
    page.get_by_label("action").fill(action)
    page.get_by_label("resource type").fill("deployment")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table tbody tr").first).to_contain_text(action)
    cells = page.locator("table tbody tr td:nth-child(3)").all_inner_texts()
    assert cells and set(cells) == {action}
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(download_info.value.path()).read())))
    expected = stack.api(
        "deployments",
        "GET",
        "/v1/audit-logs/export.csv",
        params={"action": action, "resource_type": "deployment"},
    ).text
    assert rows and {r["action"] for r in rows} == {action}
    assert len(rows) == len(list(csv.DictReader(io.StringIO(expected))))
    shot(page, "audit")


def test_runbooks_search_and_render_markdown_safely(page, stack):
    stack.api(
        "deployments",
        "POST",
        "/v1/runbooks",
        json={"title": "hostile", "content": "**bold** <img src=x onerror=alert(1)>"},
    )
    open_page(page, stack, "runbooks?q=5xx")
    expect(page.locator("details.runbook")).to_have_count(1)
    page.locator("details.runbook summary").click()
    expect(page.locator("details.runbook strong").first).to_have_text("reason")
    shot(page, "runbooks")
    open_page(page, stack, "runbooks?q=hostile")
    page.locator("details.runbook summary").click()
    expect(page.locator("details.runbook .markdown")).to_contain_text("<img src=x")
    expect(page.locator("details.runbook img")).to_have_count(0)


def test_packages_page_rolls_back_a_package_deployment(page, stack):
    open_page(page, stack, "packages")
    expect(page.get_by_text("pricing").first).to_be_visible()
    shot(page, "packages")
    page.get_by_role("button", name="Roll back").first.click()
    expect(page.locator(".notice.ok")).to_contain_text("done")
    record = stack.api(
        "packages", "GET", f"/v1/package-deployments/{stack.ids['package_deployment']}"
    ).json()["deployment"]
    assert record["rolled_back_at"]


def test_keyboard_reaches_every_page_and_controls_are_labelled(page, stack):
    open_page(page, stack, "queue")
    page.locator("a.skip").focus()
    page.keyboard.press("Tab")  # first nav link: Queue
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Approvals")
    page.keyboard.press("Enter")
    expect(page.locator("main h1")).to_have_text("Approvals")
    for route in ("queue", "dora", "audit", "runbooks"):
        open_page(page, stack, route)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.outerHTML)"""
        )
        assert unlabelled == [], route


def test_a_failed_deployment_shows_its_runbooks_history_and_restore(page, stack):
    failed = stack.ids["failure"]
    open_page(page, stack, f"deployments/{failed}")
    expect(page.locator("dl.facts .badge").first).to_have_text("✕ failed")
    expect(page.locator("dl.facts")).to_contain_text("smoke tests failed")
    runbooks = page.locator("section.runbooks")
    expect(runbooks.locator("article > h3")).to_have_text("api: 5xx after a release")
    expect(runbooks.locator("strong").first).to_have_text("reason")
    history = page.locator("ol.history li")
    expect(history).to_have_count(3)  # created, in progress, failed
    expect(history.first).to_contain_text("failed")
    shot(page, "deployment-failed")
    rollback = stack.ids["rollback"]
    open_page(page, stack, f"deployments/{rollback}")
    expect(page.locator("ul.links")).to_contain_text(stack.ids["rolled_back"])
    expect(page.locator("dl.facts")).to_contain_text("rollback")


def test_an_approver_role_sees_approve_and_a_deployer_does_not(page, stack):
    pending = stack.ids["pending"][0]
    me_as(page, "deployer")
    open_page(page, stack, f"deployments/{pending}")
    expect(page.get_by_role("button", name="Roll back")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    page.unroute("**/v1/me")
    me_as(page, "approver")
    open_page(page, stack, f"deployments/{pending}")
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
