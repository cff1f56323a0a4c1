"""Personal API tokens: created on the account page (shown once), stored hashed, revoked."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from grants.extensions import db
from grants.models import ApiToken
from grants.services import tokens
from grants.services.errors import NotFound, ValidationFailed
from tests.factories import PASSWORD, UserFactory

TOKEN = re.compile(r'value="(mmd_[A-Za-z0-9_-]{43})"')


def login(client, user) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def stored(token_id: int) -> ApiToken:
    db.session.expire_all()
    return db.session.get(ApiToken, token_id)


def test_a_token_is_shown_once_and_stored_only_as_its_hash(app, client):
    user = UserFactory()
    login(client, user)
    response = client.post("/account/tokens", data={"name": "Finance script"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = TOKEN.search(page).group(1)

    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert row.name == "Finance script"
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.prefix == secret[:12]
    assert secret not in {row.token_hash, row.prefix, row.name}

    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "Finance script" in listing and f"{row.prefix}…" in listing
    assert secret not in listing  # never shown again

    assert client.get("/api/v1/me", headers=bearer(secret)).get_json()["id"] == user.id


def test_revoking_closes_the_api_at_once(app, client):
    user = UserFactory()
    new = tokens.create_token(user, "Laptop")
    assert client.get("/api/v1/me", headers=bearer(new.secret)).status_code == 200
    login(client, user)
    response = client.post(f"/account/tokens/{new.token.id}/revoke")
    assert response.status_code == 302
    assert stored(new.token.id).revoked_at is not None

    response = client.get("/api/v1/me", headers=bearer(new.secret))
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorised"
    assert "revoked" in client.get("/account/tokens").get_data(as_text=True)


def test_nobody_revokes_another_users_token(app, client):
    owner, other = UserFactory(), UserFactory()
    new = tokens.create_token(owner, "Owner's")
    login(client, other)
    assert client.post(f"/account/tokens/{new.token.id}/revoke").status_code == 404
    assert stored(new.token.id).revoked_at is None
    with pytest.raises(NotFound):
        tokens.revoke_token(other, new.token.id)


def test_the_token_page_needs_a_login(app, client):
    response = client.get("/account/tokens")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 302
    assert db.session.scalar(select(ApiToken)) is None


def test_the_forms_are_csrf_protected(app, client):
    user = UserFactory()
    new = tokens.create_token(user, "Kept")
    login(client, user)
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/account/tokens", data={"name": "Forged"}).status_code == 400
    assert client.post(f"/account/tokens/{new.token.id}/revoke").status_code == 400
    assert [t.name for t in tokens.user_tokens(user)] == ["Kept"]
    assert stored(new.token.id).revoked_at is None

    page = client.get("/account/tokens").get_data(as_text=True)
    csrf_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/account/tokens", data={"name": "Real", "csrf_token": csrf_token})
    assert response.status_code == 201
    assert sorted(t.name for t in tokens.user_tokens(user)) == ["Kept", "Real"]


@pytest.mark.parametrize(("name", "message"), [("   ", "required"), ("x" * 101, "too long")])
def test_a_token_needs_a_sensible_name(app, name, message):
    with pytest.raises(ValidationFailed) as caught:
        tokens.create_token(UserFactory(), name)
    assert caught.value.fields == {"name": [message]}


def test_the_number_of_active_tokens_is_limited(app):
    user = UserFactory()
    made = [tokens.create_token(user, f"t{n}") for n in range(tokens.MAX_ACTIVE_TOKENS)]
    with pytest.raises(ValidationFailed):
        tokens.create_token(user, "one too many")
    tokens.revoke_token(user, made[0].token.id)
    assert tokens.create_token(user, "after a revocation").token.active


def test_the_page_reports_a_refused_token_and_keeps_the_name(app, client):
    user = UserFactory()
    for n in range(tokens.MAX_ACTIVE_TOKENS):
        tokens.create_token(user, f"t{n}")
    login(client, user)
    response = client.post("/account/tokens", data={"name": "Twenty-first"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "revoke one first" in page and 'value="Twenty-first"' in page
    assert TOKEN.search(page) is None


def test_last_use_is_recorded_once_per_period(app, client, frozen_clock):
    user = UserFactory()
    new = tokens.create_token(user, "Poller")
    assert stored(new.token.id).last_used_at is None
    first = frozen_clock.current
    client.get("/api/v1/me", headers=bearer(new.secret))
    assert stored(new.token.id).last_used_at == first

    frozen_clock.advance(minutes=4)
    client.get("/api/v1/me", headers=bearer(new.secret))
    assert stored(new.token.id).last_used_at == first  # no write within the period

    later = frozen_clock.advance(minutes=2)
    client.get("/api/v1/me", headers=bearer(new.secret))
    assert stored(new.token.id).last_used_at == later
    assert later - first > tokens.LAST_USED_RESOLUTION > timedelta(0)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer mmd_not-a-real-token",
        "Bearer not-even-our-format",
    ],
)
def test_anything_but_a_live_token_is_unauthorised(app, client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/calls", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorised"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_disabled_account_loses_api_access(app, client):
    user = UserFactory()
    new = tokens.create_token(user, "Old laptop")
    user.active = False
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(new.secret)).status_code == 401


def test_a_session_cookie_opens_nothing_in_the_api(app, client):
    """The API accepts Bearer tokens only, so a cookie cannot be used to bypass CSRF."""
    login(client, UserFactory())
    assert client.get("/account/tokens").status_code == 200  # the session is live
    assert client.get("/api/v1/me").status_code == 401
    response = client.post("/api/v1/calls/1/transitions", json={"name": "publish"})
    assert response.status_code == 401


def test_the_navigation_leads_a_signed_in_user_to_their_tokens(app, client):
    assert 'href="/account/tokens"' not in client.get("/").get_data(as_text=True)
    login(client, UserFactory())
    assert 'href="/account/tokens"' in client.get("/").get_data(as_text=True)
