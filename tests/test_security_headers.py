"""Security headers on every response, and templates that let the policy forbid inline code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grants import create_app
from grants.security_headers import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Mail is read in mail programs (inline styles are the norm there) and PDFs by WeasyPrint:
# neither is served to browsers under this policy.
NOT_BROWSER_PAGES = ("email", "pdf")


def _directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


@pytest.mark.parametrize("path", ["/", "/account/login", "/no-such-page", "/static/css/app.css"])
def test_every_response_carries_the_headers(client, path):
    response = client.get(path)
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'self'" and policy["form-action"] == "'self'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # testing: plain HTTP


def test_api_answers_carry_them_too(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"


def _app(tmp_path: Path, environment: str):  # type: ignore[no-untyped-def]
    return create_app({
        "ENV_NAME": environment,
        "TESTING": True,  # no background sweeper on this empty database
        "SECRET_KEY": "k" * 40,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/h.sqlite3",
        "REDIS_URL": None,
        "MAIL_FOLDER": str(tmp_path / "mail"),
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    })


def test_hsts_only_in_production(tmp_path):
    production = _app(tmp_path, "production").test_client().get("/static/css/app.css")
    assert production.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains"
    )
    development = _app(tmp_path, "development").test_client().get("/static/css/app.css")
    assert "Strict-Transport-Security" not in development.headers
    assert development.headers["X-Frame-Options"] == "DENY"


def test_a_header_set_by_a_view_is_kept(app, client):
    @app.get("/_probe")
    def _probe():  # type: ignore[no-untyped-def]
        return "ok", 200, {"X-Frame-Options": "SAMEORIGIN"}

    response = client.get("/_probe")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def _browser_templates() -> list[Path]:
    return [
        p for p in TEMPLATES.rglob("*.html")
        if p.relative_to(TEMPLATES).parts[0] not in NOT_BROWSER_PAGES
    ]


def test_no_page_template_has_inline_script_or_style():
    """The policy forbids them: the browser would refuse to run or apply them."""
    offenders = []
    for path in _browser_templates():
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(TEMPLATES))
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text, re.IGNORECASE):
            offenders.append(f"{name}: inline <script>")
        if re.search(r"<style\b", text, re.IGNORECASE):
            offenders.append(f"{name}: <style> element")
        if re.search(r"\sstyle\s*=", text, re.IGNORECASE):
            offenders.append(f"{name}: style attribute")
        if re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE):
            offenders.append(f"{name}: inline event handler")
        if re.search(r"javascript:", text, re.IGNORECASE):
            offenders.append(f"{name}: javascript: URL")
    assert offenders == []
    assert len(_browser_templates()) > 20  # the scan did look at the pages


def test_the_enrolment_qr_code_is_drawn_without_inline_style(app):
    from grants.services import two_factor

    svg = str(two_factor.qr_svg("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP", title="<QR>"))
    assert svg.startswith("<svg") and "style=" not in svg and "<script" not in svg
    assert "<QR>" not in svg and "&lt;QR&gt;" in svg
