"""The web shell in a real browser: each role logs in and sees its home page."""

from __future__ import annotations

import pytest

from grants.demo import DEMO_PASSWORD, create_demo_data
from grants.extensions import db

pytestmark = pytest.mark.e2e


def _log_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/account/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("input[type=submit]")


def test_each_role_sees_its_home_page(app, live_server, page):  # type: ignore[no-untyped-def]
    create_demo_data()
    db.session.remove()  # the server thread opens its own sessions

    page.goto(live_server + "/")
    assert "MMD Grant Facility: second call for proposals" in page.content()

    _log_in(page, live_server, "manager@mmd.example.org")
    assert page.url.endswith("/home/")
    body = page.inner_text("main")
    assert "programme manager" in body
    assert "awarded" in body and "reserve" in body
    assert "-C02-G001" in body  # the grant awaiting signature
    assert "Commune de Kayes" in body  # every organisation's applications
    page.click("form[action='/account/logout'] button")  # in either language
    assert "You are logged out." in page.inner_text("main")

    _log_in(page, live_server, "cooperation@kayes.example.ml")
    body = page.inner_text("main")
    assert "Commune de Kayes" in body
    assert "Ghana Migrants Rights Forum" not in body  # nobody else's applications
    page.click("form[action='/account/logout'] button")  # in either language

    _log_in(page, live_server, "evaluator1@mmd.example.org")
    body = page.inner_text("main")
    assert "My evaluation assignments" in body
    assert "submitted" in body
