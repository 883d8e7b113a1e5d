"""The OpenAPI document and the docs page are served by Vestnik itself, under the site's CSP."""

import re

from django.contrib.staticfiles import finders
from django.test import Client


def test_the_openapi_document_describes_the_api() -> None:
    document = Client().get("/api/v1/openapi.json").json()

    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    send = document["paths"]["/api/v1/mailings/{pk}/send"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in send["parameters"])
    assert "application/problem+json" in send["responses"]["409"]["content"]


def test_the_docs_page_has_no_inline_script_and_only_local_files() -> None:
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    html = response.content.decode()
    for tag in re.findall(r"<script[^>]*>", html):
        # A JSON data block is not executed; everything else must be a file of ours.
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"<style|style=", html)
    for path in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert finders.find(path), path
    assert "cdn" not in html.lower()
