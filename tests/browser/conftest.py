"""Browser tests: real headless Chromium (Debian's) on the console, against the real functions.

One stack and one seeded demo organisation for the whole module set; tests that change
state pick their own records. Screenshots go to build/console-screenshots/ (not committed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.console import ConsoleStack, chromium_path, launch_chromium

SHOTS = Path(__file__).resolve().parents[2] / "build" / "console-screenshots"


@pytest.fixture(scope="session")
def chromium():
    if chromium_path() is None:
        pytest.skip("Chromium not found: apt-get install -y chromium (.ci/run installs it)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def stack(chromium, firestore_emulator, pubsub_emulator, log_dir):
    stack = ConsoleStack(firestore_emulator.host, pubsub_emulator.host, log_dir)
    try:
        stack.ids = stack.seed(canaries=False, log_dir=log_dir)
        yield stack
    finally:
        stack.close()


@pytest.fixture
def page(chromium, stack):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def open_page(page, stack, route: str):
    """Go to a console route and wait until it has rendered."""
    page.goto("about:blank")  # a new document each time, never the previous page's content
    page.goto(f"{stack.urls['console']}/#/{route}")
    page.wait_for_selector("main[data-page]", state="attached")
    return page


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
