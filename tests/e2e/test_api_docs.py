"""In a real browser: the API's interactive docs (Swagger UI from django-ninja's own static files) load and work
under the site's Content-Security-Policy, with nothing fetched from elsewhere."""

from typing import Any

import pytest

from tests.e2e.live import LiveSite

pytestmark = pytest.mark.browser


def test_the_api_docs_render_without_csp_violations_or_outside_requests(site: LiveSite, e2e_browser: Any) -> None:
    context = e2e_browser.new_context(locale="ru-RU")
    context.set_default_timeout(20_000)
    page = context.new_page()
    violations: list[str] = []
    outside: list[str] = []
    page.on(
        "console",
        lambda m: (
            violations.append(m.text) if "Content Security Policy" in m.text or "Content-Security" in m.text else None
        ),
    )
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((site.url, "data:")) else None)
    try:
        response = page.goto(f"{site.url}/api/v1/docs")
        assert response is not None and response.status == 200
        # Swagger UI fetched the document and drew the operations.
        page.wait_for_selector('[data-path="/api/v1/recipients/upsert"]')
        assert page.locator(".swagger-ui .info .title").inner_text().startswith("Вестник API")
    finally:
        context.close()
    assert violations == []
    assert outside == []
