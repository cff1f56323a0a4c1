"""Accounts on the web: registration with a verified address, reset links, login limits."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import pytest

from grants.extensions import db
from grants.models import User
from grants.services import registration
from grants.services.accounts import login_throttle
from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _fresh_throttle():
    login_throttle.reset()
    yield
    login_throttle.reset()


def _mails(app) -> list[email.message.EmailMessage]:
    folder = Path(app.config["MAIL_FOLDER"])
    return (
        [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob("*.eml"))
        ]
        if folder.exists()
        else []
    )


def _link(message: email.message.EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://localhost(/account/\S+)", text).group(1)


def _register(client, address="new@example.org", password="a long passphrase"):  # noqa: S107
    return client.post(
        "/account/register",
        data={
            "name": "Aminata",
            "email": address,
            "password": password,
            "confirm": password,
            "language": "fr",
        },
    )


def test_registration_verification_then_login(app, client):
    response = _register(client)
    assert response.headers["Location"].endswith("/account/check-your-mail")
    user = db.session.scalar(db.select(User).where(User.email == "new@example.org"))
    assert user.email_verified_at is None and user.language == "fr"
    assert user.password_hash.startswith("scrypt:")
    login = {"email": "new@example.org", "password": "a long passphrase"}
    assert client.post("/account/login", data=login).status_code == 200  # not verified yet
    (message,) = _mails(app)
    assert message["To"] == "new@example.org"
    assert client.get(_link(message)).status_code == 302
    assert client.post("/account/login", data=login).headers["Location"].endswith("/home/")


def test_registering_a_taken_address_answers_the_same_and_creates_nothing(app, client):
    UserFactory(email="taken@example.org")
    first = _register(client, "taken@example.org")
    second = _register(client, "free@example.org")
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(db.select(db.func.count(User.id))) == 2
    kinds = sorted(m["Subject"] for m in _mails(app))
    assert len(kinds) == 2  # the taken address got a reset link, the new one a verification


def test_forgot_password_says_the_same_for_unknown_addresses(app, client):
    UserFactory(email="known@example.org")
    known = client.post(
        "/account/forgot", data={"email": "known@example.org"}, follow_redirects=True
    )
    unknown = client.post(
        "/account/forgot", data={"email": "nobody@example.org"}, follow_redirects=True
    )
    assert known.data.replace(b"known", b"x") == unknown.data.replace(b"nobody", b"x")
    assert len(_mails(app)) == 1


def test_reset_link_changes_the_password_once_and_expires(app, client, frozen_clock):
    user = UserFactory(email="reset@example.org")
    client.post("/account/forgot", data={"email": "reset@example.org"})
    link = _link(_mails(app)[0])
    assert client.get(link).status_code == 200
    response = client.post(
        link, data={"password": "brand new secret", "confirm": "brand new secret"}
    )
    assert response.status_code == 302
    assert client.get(link).status_code == 400  # used: the fingerprint changed
    assert (
        client.post(
            "/account/login", data={"email": user.email, "password": "brand new secret"}
        ).status_code
        == 302
    )


def test_expired_links_are_refused(app, monkeypatch):
    user = UserFactory(email_verified_at=None)
    token = registration.verification_token(user)
    monkeypatch.setattr(registration, "VERIFY_MAX_AGE", -1)
    with pytest.raises(registration.InvalidLink, match="expired"):
        registration.verify_email(token)
    token = registration.reset_token(user)
    monkeypatch.setattr(registration, "RESET_MAX_AGE", -1)
    with pytest.raises(registration.InvalidLink, match="expired"):
        registration.user_for_reset(token)


def test_login_is_rate_limited_per_address(app, client):
    user = UserFactory()
    for _ in range(5):
        assert (
            client.post(
                "/account/login", data={"email": user.email, "password": "wrong one"}
            ).status_code
            == 200
        )
    blocked = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert b"Too many failed attempts" in blocked.data


def test_login_failure_does_not_say_whether_the_address_exists(app, client):
    UserFactory(email="real@example.org")
    real = client.post(
        "/account/login", data={"email": "real@example.org", "password": "nope nope"}
    )
    fake = client.post(
        "/account/login", data={"email": "fake@example.org", "password": "nope nope"}
    )
    assert real.data.replace(b"real", b"x") == fake.data.replace(b"fake", b"x")


def test_logout_and_language_are_remembered(app, client):
    user = UserFactory()
    client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    client.post("/account/language", data={"language": "fr", "next": "/applicant/"})
    assert db.session.get(User, user.id).language == "fr"
    client.post("/account/logout")
    assert client.get("/applicant/").status_code == 302
    assert 'lang="fr"' in client.get("/").get_data(as_text=True)


def test_csrf_token_is_required(app):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post(
        "/account/register",
        data={
            "name": "x",
            "email": "c@example.org",
            "password": "a long passphrase",
            "confirm": "a long passphrase",
        },
    )
    assert response.status_code == 400
    assert db.session.scalar(db.select(User).where(User.email == "c@example.org")) is None
