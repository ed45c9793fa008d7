"""The console with authentication on: Google ID tokens, CORS preflights, the API's refusals."""

from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import open_page, shot
from tests.conftest import ADMIN_EMAIL, AUDIENCE, VIEWER_EMAIL
from tests.support.console import ConsoleStack

WEB = {"name": "web", "provider": "gcp", "cloud_account_id": "p1", "region": "eu", "type": "k8s"}


@pytest.fixture(scope="module")
def signed_stack(chromium, firestore_emulator, pubsub_emulator, identity, log_dir):
    auth = {
        "AUTH_ENABLED": "true",
        "ORG_ACCESS": json.dumps({"acme": {ADMIN_EMAIL: "admin", VIEWER_EMAIL: "viewer"}}),
        **identity.env(AUDIENCE),
    }
    stack = ConsoleStack(firestore_emulator.host, pubsub_emulator.host, log_dir, auth_env=auth)
    yield stack
    stack.close()


def signed_page(chromium, token: str | None):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    if token:
        # As after "Sign in with Google": the ID token kept for the tab.
        context.add_init_script(
            f"try {{ sessionStorage.setItem('deployq.token', {json.dumps(token)}); }} catch {{}}"
        )
    return context, context.new_page()


def test_a_viewer_reads_without_buttons_and_an_api_refusal_shows(chromium, signed_stack, identity):
    admin_token = identity.google_token(ADMIN_EMAIL, AUDIENCE)
    admin = {"Authorization": f"Bearer {admin_token}", "X-Organisation": "acme"}
    url = signed_stack.urls["deployments"]
    created = requests.post(
        f"{url}/v1/deployments", json={**WEB, "version": "7"}, headers=admin, timeout=10
    ).json()
    context, page = signed_page(chromium, identity.google_token(VIEWER_EMAIL, AUDIENCE))
    try:
        open_page(page, signed_stack, "queue")
        expect(page.locator(f"a[href='#/deployments/{created['id']}']")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        open_page(page, signed_stack, f"deployments/{created['id']}")
        expect(page.locator("main")).to_contain_text("7")
        # GET /v1/me says viewer: no action a viewer cannot use is offered.
        expect(page.get_by_role("button", name="Roll back")).to_have_count(0)
        shot(page, "signed-in-viewer")
    finally:
        context.close()
    # An admin may press Roll back; nothing of this taxonomy was ever deployed, so the API
    # refuses and the page shows its sentence.
    refused = requests.post(
        f"{url}/v1/deployments/{created['id']}/rollback", headers=admin, timeout=10
    )
    assert refused.status_code == 404
    context, page = signed_page(chromium, admin_token)
    try:
        open_page(page, signed_stack, f"deployments/{created['id']}")
        page.get_by_role("button", name="Roll back").click()
        expect(page.get_by_role("alert")).to_have_text(f"Refused: {refused.json()['error']}")
        shot(page, "signed-in-admin-refused")
    finally:
        context.close()


def test_without_a_token_the_page_asks_to_sign_in(chromium, signed_stack):
    context, page = signed_page(chromium, None)
    try:
        open_page(page, signed_stack, "queue")
        expect(page.get_by_role("alert")).to_contain_text("Refused:")
        expect(page.locator("main")).to_contain_text("Sign in with Google to continue.")
        expect(page.get_by_role("button", name="Sign in with Google")).to_be_visible()
    finally:
        context.close()


def test_a_refused_token_is_forgotten_and_sign_in_offered(chromium, signed_stack, identity):
    expired = identity.google_token(VIEWER_EMAIL, "https://another-audience.example")
    context, page = signed_page(chromium, expired)
    try:
        open_page(page, signed_stack, "dora")
        expect(page.get_by_role("alert")).to_contain_text("Refused:")
        expect(page.get_by_role("button", name="Sign in with Google")).to_be_visible()
        assert page.evaluate("() => sessionStorage.getItem('deployq.token')") is None
    finally:
        context.close()
