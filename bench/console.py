"""Benchmark: the console's first render in headless Chromium with 1,000 deployments.

The demo organisation is seeded, then topped up to 1,000 deployments through the API.
For each page, a fresh browser context (empty cache) opens it; "first render" is the
time from navigation start to the page's first rendered content (the app's
`deployq:rendered` performance mark: config read, `GET /v1/me`, the page's API calls and
the DOM built). Bytes: what the console function sent (one page with its script and
styles inline, as transferred, gzip) and what the APIs sent for that page. Target: the
queue page usable within 1 s on the local stack.
"""

from __future__ import annotations

import concurrent.futures
import statistics
import sys
import tempfile
from pathlib import Path

DEPLOYMENTS = 1000
RUNS = 5
PAGES = ("queue", "approvals", "dora", "audit", "canaries", "runbooks", "packages")
TARGET_MS = 1000


def top_up(stack, total: int) -> int:
    """Create deployments until the organisation holds `total`; returns how many it holds."""
    have = len(stack.api("deployments", "GET", "/v1/deployments?limit=1000").json())

    def create(n: int) -> None:
        body = {
            "name": f"svc-{n % 20:02d}",
            "version": f"0.{n}.0",
            "provider": "gcp",
            "cloud_account_id": "acme-bench",
            "region": "europe-west1",
            "type": "k8s",
            "environment": "staging",
        }
        response = stack.api("deployments", "POST", "/v1/deployments", json=body)
        assert response.status_code == 201, response.text

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(max(0, total - have))))
    return max(total, have)


def measure(browser, url: str) -> tuple[float, int, int]:
    """(ms to first render, bytes from the console function, bytes from the APIs)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("main[data-page]", state="attached")
    figures = page.evaluate(
        """() => {
            const origin = location.origin;
            const nav = performance.getEntriesByType('navigation')[0];
            let own = nav.transferSize, apis = 0;
            for (const r of performance.getEntriesByType('resource')) {
                if (r.name.startsWith(origin)) own += r.transferSize; else apis += r.transferSize;
            }
            return [performance.getEntriesByName('deployq:rendered')[0].startTime, own, apis];
        }"""
    )
    context.close()
    return float(figures[0]), int(figures[1]), int(figures[2])


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.support.console import ConsoleStack, chromium_path, launch_chromium
    from tests.support.emulators import Emulator

    print("\n== console: first render in headless Chromium ==")
    if chromium_path() is None:
        print("skipped: Chromium not found (apt-get install -y chromium)")
        return
    from playwright.sync_api import sync_playwright

    log_dir = Path(tempfile.mkdtemp(prefix="deployq-bench-console-"))
    firestore = Emulator("firestore", log_dir)
    pubsub = Emulator("pubsub", log_dir)
    stack = None
    try:
        stack = ConsoleStack(firestore.host, pubsub.host, log_dir)
        stack.seed(canaries=False, log_dir=log_dir)
        held = top_up(stack, DEPLOYMENTS)
        print(f"organisation acme: {held} deployments (demo history + generated)")
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                measure(browser, f"{stack.urls['console']}/#/queue")  # warm the functions
                print(f"{'page':<12}{'first render ms':>18}{'console bytes':>16}{'API bytes':>12}")
                for name in PAGES:
                    runs = [
                        measure(browser, f"{stack.urls['console']}/#/{name}") for _ in range(RUNS)
                    ]
                    ms = statistics.median(r[0] for r in runs)
                    own = runs[-1][1]
                    apis = statistics.median(r[2] for r in runs)
                    flag = "" if name != "queue" else ("  ok" if ms <= TARGET_MS else "  SLOW")
                    print(f"{name:<12}{ms:>18.0f}{own:>16,}{apis:>12,.0f}{flag}")
            finally:
                browser.close()
        assets = root / "functions" / "console" / "static"
        raw = sum((assets / f).stat().st_size for f in ("index.html", "app.js", "app.css"))
        print(f"console page: {raw:,} bytes uncompressed; target first render <= {TARGET_MS} ms")
    finally:
        if stack is not None:
            stack.close()
        pubsub.stop()
        firestore.stop()


if __name__ == "__main__":
    main()
