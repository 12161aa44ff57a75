"""/api-docs in a real headless Chromium (Debian's package, driven by Playwright): the page works
with no internet, lists the endpoints, and "Try it out" on GET /health gets a 200. The last
screen is kept in test-artifacts/api-docs.png."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import ROOT
from live import gunicorn

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("no /usr/bin/chromium on this machine (apt-get install chromium); CI installs it",
                allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402 - only where a browser can run

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(settings):
    with gunicorn(settings, workers=1) as base:
        yield base


@pytest.fixture
def page(server):
    """A browser page that may reach the server and nothing else; `page.blocked` lists the rest."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1600})
        blocked: list[str] = []

        def offline(route):
            if route.request.url.startswith(server):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", offline)
        page = context.new_page()
        page.blocked = blocked
        try:
            yield page
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)
            browser.close()


def test_api_docs_work_offline_list_the_endpoints_and_try_it_out_on_health(page, server):
    page.goto(f"{server}/api-docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Debt collection orchestration engine")
    paths = page.locator(".opblock-summary-path")
    expect(paths.first).to_be_visible()
    listed = set(paths.all_inner_texts())
    assert {"/health", "/health/ready", "/api/auth/login", "/api/cases/upload", "/api/jobs/{job_id}"} <= {
        p.replace("\u200b", "") for p in listed}

    health = page.locator(".opblock-get", has=page.locator('.opblock-summary-path[data-path="/health"]'))
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()

    status = health.locator(".live-responses-table .response .response-col_status")
    expect(status).to_have_text("200")
    answer = health.locator(".live-responses-table .response .response-col_description")
    expect(answer).to_contain_text('"status": "ok"')
    health.scroll_into_view_if_needed()
    assert page.blocked == [], f"the page tried to reach the internet: {page.blocked}"
