"""Two-factor login (TOTP with recovery codes), staff enrolment, re-authentication before
sensitive acts, and the administrators' reset and role pages."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from decimal import Decimal

import pyotp
import pytest
from flask import g
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from grants.blueprints.account import session_auth
from grants.extensions import db
from grants.models import AuditEvent, Grant, OutboxMessage, User
from grants.models.accounts import RecoveryCode
from grants.services import two_factor
from grants.services.accounts import login_throttle, two_factor_throttle
from grants.services.errors import ValidationFailed
from tests.factories import (
    PASSWORD,
    AdminFactory,
    ApplicationFactory,
    EvaluatorFactory,
    ManagerFactory,
    UserFactory,
)


class Steps:
    """The TOTP time step, moved by the test (codes are otherwise tied to the wall clock)."""

    def __init__(self) -> None:
        self.current = int(time.time()) // two_factor.STEP_SECONDS

    def __call__(self) -> int:
        return self.current

    def advance(self, steps: int = 1) -> None:
        self.current += steps


@pytest.fixture
def steps(monkeypatch) -> Steps:  # type: ignore[no-untyped-def]
    moving = Steps()
    monkeypatch.setattr(two_factor, "_current_step", moving)
    return moving


@pytest.fixture(autouse=True)
def _required(app):  # type: ignore[no-untyped-def]
    app.config["TWO_FACTOR_REQUIRED"] = True
    login_throttle.reset()
    two_factor_throttle.reset()
    yield
    login_throttle.reset()
    two_factor_throttle.reset()


def another_client(app):  # type: ignore[no-untyped-def]
    """A second browser. Requests share the test's app context, hence `g`: forget the user
    Flask-Login cached there for the first browser."""
    g.pop("_login_user", None)
    return app.test_client()


def code_at(secret: str, step: int) -> str:
    return pyotp.HOTP(secret).at(step)


def enrol(user: User, steps: Steps) -> tuple[str, list[str]]:
    """Two-factor login turned on through the service; the secret and recovery codes."""
    secret = two_factor.pending_secret(user)
    codes = two_factor.confirm_enrolment(user, code_at(secret, steps()))
    steps.advance()
    return secret, codes


def password_step(client, user: User, next_: str | None = None):  # type: ignore[no-untyped-def]
    url = "/account/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"email": user.email, "password": PASSWORD})


def full_login(client, user: User, secret: str, steps: Steps) -> None:  # type: ignore[no-untyped-def]
    assert password_step(client, user).headers["Location"].endswith("/account/login/code")
    done = client.post("/account/login/code", data={"code": code_at(secret, steps())})
    assert done.status_code == 302, done.text
    steps.advance()


def events(user: User) -> list[str]:
    return list(db.session.scalars(
        select(AuditEvent.event).where(
            AuditEvent.object_type == "users", AuditEvent.object_id == user.id
        ).order_by(AuditEvent.id)
    ))


def make_stale(client) -> None:  # type: ignore[no-untyped-def]
    with client.session_transaction() as session:
        session[session_auth.AUTH_AT_KEY] = time.time() - 3600


# --------------------------------------------------------------------------
# Enrolment
# --------------------------------------------------------------------------


def test_staff_without_two_factor_are_sent_to_set_it_up_and_can_do_nothing_else(
    client, steps
):
    manager = ManagerFactory()
    first = password_step(client, manager, next_="/manage/grants/")
    assert "/account/two-factor/setup" in first.headers["Location"]
    for path in ("/manage/grants/", "/home/", "/account/tokens", "/notifications/"):
        refused = client.get(path)
        assert refused.status_code == 302, path
        assert "/account/two-factor/setup" in refused.headers["Location"], path
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 302

    page = client.get("/account/two-factor/setup?next=/manage/grants/")
    assert page.status_code == 200
    assert "<svg" in page.text and "<script" not in page.text.split("<main", 1)[1]
    assert page.headers["Cache-Control"] == "no-store"
    secret = re.search(r'class="secret-key">([A-Z2-7 ]+)<', page.text).group(1).replace(" ", "")

    wrong = client.post("/account/two-factor/setup?next=/manage/grants/",
                        data={"code": "000000" if code_at(secret, steps()) != "000000"
                              else "111111"})
    assert wrong.status_code == 200 and "does not match" in wrong.text
    db.session.refresh(manager)
    assert not manager.two_factor_enabled and manager.recovery_codes == []

    done = client.post("/account/two-factor/setup?next=/manage/grants/",
                       data={"code": code_at(secret, steps())})
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'href="/manage/grants/"' in done.text
    db.session.refresh(manager)
    assert manager.two_factor_enabled
    assert events(manager) == ["two_factor_enrolled"]
    # Stored hashed and the secret encrypted: neither appears in the database as shown.
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not any(c.replace("-", "") in h for c in codes for h in stored)
    assert secret not in manager.totp_secret
    assert two_factor.open_secret(manager.totp_secret) == secret

    assert client.get("/manage/grants/").status_code == 200


def test_an_applicant_may_turn_it_on_and_off_and_is_told_by_mail(client, steps):
    user = UserFactory()
    assert password_step(client, user).status_code == 302
    assert client.get("/applicant/").status_code == 200  # optional for applicants
    status = client.get("/account/two-factor")
    assert "off for your account" in status.text
    secret = two_factor.pending_secret(user)
    client.post("/account/two-factor/setup", data={"code": code_at(secret, steps())})
    db.session.refresh(user)
    assert user.two_factor_enabled
    assert "10 recovery codes left" in client.get("/account/two-factor").text

    off = client.post("/account/two-factor/disable", follow_redirects=True)
    assert "Two-factor login is off" in off.text
    db.session.refresh(user)
    assert not user.two_factor_enabled and user.totp_secret is None
    assert db.session.scalars(select(RecoveryCode)).all() == []
    assert events(user) == ["two_factor_enrolled", "two_factor_disabled"]
    mail = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.kind == two_factor.MAIL_TWO_FACTOR_OFF))
    assert mail is not None and mail.recipient_email == user.email
    assert mail.status == "sent"


def test_staff_cannot_turn_it_off(client, steps):
    evaluator = EvaluatorFactory()
    secret, _codes = enrol(evaluator, steps)
    full_login(client, evaluator, secret, steps)
    assert "Turn two-factor login off" not in client.get("/account/two-factor").text
    refused = client.post("/account/two-factor/disable", follow_redirects=True)
    assert "required for staff" in refused.text
    db.session.refresh(evaluator)
    assert evaluator.two_factor_enabled


def test_enrolling_twice_or_without_a_pending_key_is_refused(app, steps):
    user = UserFactory()
    with pytest.raises(ValidationFailed, match="no key is waiting"):
        two_factor.confirm_enrolment(user, "123456")
    enrol(user, steps)
    with pytest.raises(ValidationFailed, match="already on"):
        two_factor.pending_secret(user)


# --------------------------------------------------------------------------
# Login in two steps
# --------------------------------------------------------------------------


def test_the_password_alone_does_not_log_in_an_enrolled_user(client, steps):
    manager = ManagerFactory()
    secret, _codes = enrol(manager, steps)
    first = password_step(client, manager, next_="/manage/grants/")
    assert first.headers["Location"].endswith("/account/login/code")
    # Not logged in: every page wants a login, and the code page is the only way on.
    assert "/account/login" in client.get("/manage/grants/").headers["Location"]
    assert "/account/login" in client.get("/home/").headers["Location"]

    wrong = client.post("/account/login/code", data={"code": "12345"})
    assert wrong.status_code == 200 and "not right" in wrong.text
    assert "/account/login" in client.get("/home/").headers["Location"]

    done = client.post("/account/login/code", data={"code": code_at(secret, steps())})
    assert done.headers["Location"] == "/manage/grants/"
    assert client.get("/manage/grants/").status_code == 200


def test_a_code_cannot_be_used_twice(client, app, steps):
    user = UserFactory()
    secret, _codes = enrol(user, steps)
    code = code_at(secret, steps())
    password_step(client, user)
    assert client.post("/account/login/code", data={"code": code}).status_code == 302
    client.post("/account/logout")

    other = another_client(app)
    password_step(other, user)
    replay = other.post("/account/login/code", data={"code": code})
    assert replay.status_code == 200 and "used already" in replay.text
    # Nor an older code still within the drift window.
    older = other.post("/account/login/code", data={"code": code_at(secret, steps() - 1)})
    assert older.status_code == 200
    steps.advance()
    fresh = other.post("/account/login/code", data={"code": code_at(secret, steps())})
    assert fresh.status_code == 302


def test_codes_of_the_next_and_previous_step_are_accepted_not_further(app, steps):
    user = UserFactory()
    secret, _codes = enrol(user, steps)
    steps.advance(5)
    assert two_factor.check_code(user, code_at(secret, steps() - 2)) is None
    assert two_factor.check_code(user, code_at(secret, steps() + 2)) is None
    assert two_factor.check_code(user, code_at(secret, steps() - 1)) == "totp"
    assert two_factor.check_code(user, code_at(secret, steps() + 1)) == "totp"
    assert two_factor.check_code(user, code_at(secret, steps())) is None  # older than used


def test_a_code_accepted_elsewhere_at_the_same_moment_is_refused_here(app, steps, monkeypatch):
    """Two processes checking one code at once: the database lets one of them have it."""
    user = UserFactory()
    secret, codes = enrol(user, steps)
    step = steps()
    seen = user.totp_last_step
    # Another process records the step after this one read the user...
    db.session.execute(update(User).where(User.id == user.id).values(totp_last_step=step)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    set_committed_value(user, "totp_last_step", seen)
    assert two_factor.check_code(user, code_at(secret, step)) is None
    assert user.totp_last_step == step

    # ... and spends the recovery code between this one's check of it and its update.
    real_check = two_factor.check_password_hash

    def check_then_lose_the_race(hashed: str, code: str) -> bool:
        db.session.execute(update(RecoveryCode).values(used_at=datetime.now(UTC))
                           .execution_options(synchronize_session=False))
        return real_check(hashed, code)

    monkeypatch.setattr(two_factor, "check_password_hash", check_then_lose_the_race)
    assert two_factor.check_code(user, codes[0]) is None
    assert "recovery_code_used" not in events(user)


def test_a_recovery_code_logs_in_once_and_the_owner_is_told(client, app, steps):
    user = UserFactory()
    _secret, codes = enrol(user, steps)
    password_step(client, user)
    done = client.post("/account/login/code", data={"code": codes[3].upper()},
                       follow_redirects=True)
    assert "recovery code; 9 left" in done.text
    assert two_factor.remaining_recovery_codes(user) == 9
    assert events(user) == ["two_factor_enrolled", "recovery_code_used"]
    mail = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.kind == two_factor.MAIL_RECOVERY_CODE_USED))
    assert mail is not None and mail.context["remaining"] == 9
    client.post("/account/logout")

    again = another_client(app)
    password_step(again, user)
    assert again.post("/account/login/code", data={"code": codes[3]}).status_code == 200
    assert two_factor.remaining_recovery_codes(user) == 9
    assert again.post("/account/login/code", data={"code": codes[4]}).status_code == 302


def test_the_code_step_is_throttled(client, steps):
    user = UserFactory()
    secret, _codes = enrol(user, steps)
    password_step(client, user)
    for _ in range(5):
        assert client.post("/account/login/code", data={"code": "000000"}).status_code == 200
    blocked = client.post("/account/login/code", data={"code": code_at(secret, steps())})
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
    assert "/account/login" in client.get("/home/").headers["Location"]
    db.session.refresh(user)
    assert user.totp_last_step == steps() - 1  # the right code was not even checked


def test_the_code_step_waits_five_minutes_at_most(client, steps, monkeypatch):
    user = UserFactory()
    secret, _codes = enrol(user, steps)
    password_step(client, user)
    monkeypatch.setattr(session_auth, "PENDING_SECONDS", -1)
    late = client.post("/account/login/code", data={"code": code_at(secret, steps())})
    assert late.headers["Location"].endswith("/account/login")
    assert "/account/login" in client.get("/home/").headers["Location"]


def test_the_code_step_without_a_password_goes_back_to_the_login(client):
    assert client.get("/account/login/code").headers["Location"].endswith("/account/login")


def test_a_session_without_the_code_is_logged_out(client, steps):
    """A session from before enrolment (or another way in) does not stay logged in."""
    user = UserFactory()
    password_step(client, user)
    assert client.get("/applicant/").status_code == 200
    enrol(user, steps)
    gone = client.get("/applicant/")
    assert "/account/login" in gone.headers["Location"]
    assert "/account/login" in client.get("/applicant/").headers["Location"]


def test_saving_a_section_with_the_password_only_is_refused_when_two_factor_is_on(
    client, steps
):
    """The application form's log-in-and-save (after a session ended) skips the code step:
    refused for an account that has it, and nothing is saved."""
    application = ApplicationFactory()
    owner = application.created_by
    enrol(owner, steps)
    refused = client.post(
        f"/applicant/applications/{application.id}/sections/summary",
        data={"email": owner.email, "password": PASSWORD, "version": "0"},
    )
    assert refused.status_code == 401
    assert "/account/login" in client.get("/applicant/").headers["Location"]


# --------------------------------------------------------------------------
# Recovery codes and the administrator's reset
# --------------------------------------------------------------------------


def test_new_recovery_codes_need_a_recent_login_and_replace_the_old(client, app, steps):
    user = UserFactory()
    secret, old_codes = enrol(user, steps)
    full_login(client, user, secret, steps)
    make_stale(client)
    asked = client.post("/account/two-factor/recovery-codes", data={"submit": "Confirm"})
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    assert 'name="submit" value="Confirm"' in asked.text  # what was posted rides along
    assert two_factor.remaining_recovery_codes(user) == 10
    assert events(user) == ["two_factor_enrolled"]

    wrong = client.post("/account/two-factor/recovery-codes",
                        data={"submit": "Confirm", "reauth_password": "not it at all",
                              "reauth_code": code_at(secret, steps())})
    assert wrong.status_code == 200 and "password is not right" in wrong.text
    assert events(user) == ["two_factor_enrolled"]

    done = client.post("/account/two-factor/recovery-codes",
                       data={"submit": "Confirm", "reauth_password": PASSWORD,
                             "reauth_code": code_at(secret, steps())})
    assert done.status_code == 200
    new_codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.text)
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert events(user) == ["two_factor_enrolled", "recovery_codes_renewed"]
    assert two_factor.check_code(user, old_codes[0]) is None
    assert two_factor.check_code(user, new_codes[0]) == "recovery"


def test_an_administrator_resets_a_users_two_factor_login(client, app, steps):
    admin = AdminFactory()
    admin_secret, _codes = enrol(admin, steps)
    manager = ManagerFactory()
    enrol(manager, steps)
    full_login(client, admin, admin_secret, steps)

    page = client.get(f"/account/users/{manager.id}")
    assert page.status_code == 200 and "Reset two-factor login" in page.text
    listing = client.get("/account/users/")
    assert manager.email in listing.text and admin.email in listing.text

    done = client.post(f"/account/users/{manager.id}/two-factor/reset", follow_redirects=True)
    assert "is reset" in done.text
    db.session.refresh(manager)
    assert not manager.two_factor_enabled and manager.totp_secret is None
    reset_event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event == "two_factor_reset"))
    assert (reset_event.actor_id, reset_event.object_id) == (admin.id, manager.id)
    mail = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.recipient_email == manager.email,
        OutboxMessage.kind == two_factor.MAIL_TWO_FACTOR_OFF))
    assert mail is not None and mail.context["by_admin"] is True

    # The manager enrols again at the next login.
    other = another_client(app)
    assert "/account/two-factor/setup" in password_step(other, manager).headers["Location"]

    g.pop("_login_user", None)  # back to the administrator's browser
    again = client.post(f"/account/users/{manager.id}/two-factor/reset", follow_redirects=True)
    assert "not on for this account" in again.text


def test_the_command_line_can_reset_the_last_administrator(app, steps):
    from grants.services.actors import SystemActor

    admin = AdminFactory()
    enrol(admin, steps)
    two_factor.reset(admin, SystemActor("command line"))
    assert not admin.two_factor_enabled
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event == "two_factor_reset"))
    assert (event.actor_id, event.actor_label) == (None, "system (command line)")
    with pytest.raises(two_factor.PermissionDenied):
        two_factor.reset(admin, UserFactory())


def test_reset_two_factor_command(app, runner, steps):
    admin = AdminFactory()
    enrol(admin, steps)
    result = runner.invoke(args=["grants", "reset-two-factor", "--email", admin.email])
    assert result.exit_code == 0, result.output
    db.session.refresh(admin)
    assert not admin.two_factor_enabled
    again = runner.invoke(args=["grants", "reset-two-factor", "--email", admin.email])
    assert again.exit_code != 0 and "not on" in again.output
    unknown = runner.invoke(args=["grants", "reset-two-factor", "--email", "nobody@example.org"])
    assert unknown.exit_code != 0 and "no account" in unknown.output


def test_only_administrators_see_and_use_the_account_pages(client, steps):
    manager = ManagerFactory()
    target = UserFactory()
    secret, _codes = enrol(manager, steps)
    enrol(target, steps)
    full_login(client, manager, secret, steps)
    assert client.get("/account/users/").status_code == 403
    assert client.get(f"/account/users/{target.id}").status_code == 403
    assert client.post(f"/account/users/{target.id}/two-factor/reset").status_code == 403
    assert client.post(f"/account/users/{target.id}/roles",
                       data={"roles": ["admin"]}).status_code == 403
    db.session.refresh(target)
    assert target.two_factor_enabled and target.roles == frozenset()


# --------------------------------------------------------------------------
# Re-authentication before sensitive acts
# --------------------------------------------------------------------------


def test_changing_roles_needs_a_recent_login_and_keeps_what_was_posted(client, steps):
    admin = AdminFactory()
    secret, _codes = enrol(admin, steps)
    person = UserFactory()
    full_login(client, admin, secret, steps)

    # Fresh from the login: no question asked.
    done = client.post(f"/account/users/{person.id}/roles", data={"roles": ["evaluator"]})
    assert done.status_code == 302
    db.session.refresh(person)
    assert person.roles == {"evaluator"}

    make_stale(client)
    asked = client.post(f"/account/users/{person.id}/roles",
                        data={"roles": ["evaluator", "programme_manager"]})
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    assert 'name="roles" value="evaluator"' in asked.text
    assert 'name="roles" value="programme_manager"' in asked.text
    db.session.refresh(person)
    assert person.roles == {"evaluator"}

    no_code = client.post(f"/account/users/{person.id}/roles",
                          data={"roles": ["evaluator", "programme_manager"],
                                "reauth_password": PASSWORD})
    assert no_code.status_code == 200 and "Type the code" in no_code.text
    db.session.refresh(person)
    assert person.roles == {"evaluator"}

    confirmed = client.post(f"/account/users/{person.id}/roles",
                            data={"roles": ["evaluator", "programme_manager"],
                                  "reauth_password": PASSWORD,
                                  "reauth_code": code_at(secret, steps())})
    assert confirmed.status_code == 302
    db.session.refresh(person)
    assert person.roles == {"evaluator", "programme_manager"}
    changes = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event == "roles_changed").order_by(AuditEvent.id)).all()
    assert [c.data for c in changes] == [
        {"before": [], "after": ["evaluator"]},
        {"before": ["evaluator"], "after": ["evaluator", "programme_manager"]},
    ]
    # Confirmed now: the next change within the window asks nothing.
    assert client.post(f"/account/users/{person.id}/roles",
                       data={"roles": ["evaluator"]}).status_code == 302


def test_bad_role_changes_are_refused_and_change_nothing(client, steps):
    admin = AdminFactory()
    secret, _codes = enrol(admin, steps)
    person = UserFactory()
    full_login(client, admin, secret, steps)
    unknown = client.post(f"/account/users/{person.id}/roles", data={"roles": ["king"]},
                          follow_redirects=True)
    assert "Choose among the roles listed" in unknown.text
    own = client.post(f"/account/users/{admin.id}/roles", data={"roles": ["evaluator"]},
                      follow_redirects=True)
    assert "cannot remove your own administrator role" in own.text
    db.session.refresh(admin)
    db.session.refresh(person)
    assert admin.roles == {"admin"} and person.roles == frozenset()
    assert client.get("/account/users/999999").status_code == 404


def test_the_confirmation_page_returns_where_the_user_was_going(client, steps):
    user = UserFactory()
    secret, _codes = enrol(user, steps)
    full_login(client, user, secret, steps)
    make_stale(client)
    page = client.get("/account/confirm?next=/account/two-factor")
    assert page.status_code == 200 and 'name="reauth_code"' in page.text
    empty = client.post("/account/confirm?next=/account/two-factor", data={})
    assert empty.status_code == 200 and "Type your password" in empty.text
    done = client.post("/account/confirm?next=/account/two-factor",
                       data={"reauth_password": PASSWORD,
                             "reauth_code": code_at(secret, steps())})
    assert done.headers["Location"] == "/account/two-factor"
    # Never to another site.
    make_stale(client)
    steps.advance()
    away = client.post("/account/confirm?next=//evil.example/x",
                       data={"reauth_password": PASSWORD,
                             "reauth_code": code_at(secret, steps())})
    assert "evil.example" not in away.headers["Location"]


def test_reauthentication_is_throttled(client, steps):
    user = UserFactory()
    secret, _codes = enrol(user, steps)
    full_login(client, user, secret, steps)
    make_stale(client)
    for _ in range(5):
        client.post("/account/confirm", data={"reauth_password": "wrong password!"})
    blocked = client.post("/account/confirm", data={"reauth_password": PASSWORD,
                                                    "reauth_code": code_at(secret, steps())})
    assert blocked.status_code == 429


@pytest.fixture
def selected(app, frozen_clock):  # type: ignore[no-untyped-def]
    return ApplicationFactory(state="provisionally_selected")


def test_awarding_and_approving_a_payment_need_a_recent_login(client, app, steps, selected):
    manager = ManagerFactory()
    secret, _codes = enrol(manager, steps)
    full_login(client, manager, secret, steps)
    make_stale(client)
    form = {"amount": "100000", "documents_verified": "y"}
    asked = client.post(f"/manage/grants/award/{selected.id}", data=form)
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    assert 'name="amount" value="100000"' in asked.text
    assert f'action="/manage/grants/award/{selected.id}"' in asked.text
    assert db.session.scalar(select(Grant)) is None

    done = client.post(f"/manage/grants/award/{selected.id}",
                       data={**form, "reauth_password": PASSWORD,
                             "reauth_code": code_at(secret, steps())})
    steps.advance()
    assert done.status_code == 302
    grant = db.session.scalar(select(Grant))
    assert grant is not None and grant.amount == Decimal("100000.00")

    # A stale session may still reject, not approve or pay.
    from grants.services import awards

    awards.send_for_signature(grant, manager)
    owner = selected.created_by
    awards.sign_in_app(grant, owner, name="Awa Diop", address="192.0.2.1",
                document_sha256=grant.current_contract.document_sha256)
    awards.countersign(grant, manager, address="192.0.2.9")
    from grants.services.transitions import transition

    first = grant.payments[0]
    transition(first, "request", owner)
    make_stale(client)
    asked = client.post(f"/manage/grants/payments/{first.id}/approve", data={"comment": "ok"})
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    db.session.refresh(first)
    assert first.state == "requested"
    confirmed = client.post(f"/manage/grants/payments/{first.id}/approve",
                            data={"comment": "ok", "reauth_password": PASSWORD,
                                  "reauth_code": code_at(secret, steps())})
    assert confirmed.status_code == 302
    db.session.refresh(first)
    assert first.state == "approved"


def test_the_selection_decision_needs_a_recent_login(client, steps):
    manager = ManagerFactory()
    secret, _codes = enrol(manager, steps)
    full_login(client, manager, secret, steps)
    make_stale(client)
    asked = client.post("/manage/calls/NOPE/ranking/full_application",
                        data={"fingerprint": "abc"})
    assert asked.status_code == 200 and 'name="fingerprint" value="abc"' in asked.text
    # Confirmed, the request goes on to the view, which answers for the unknown call.
    confirmed = client.post("/manage/calls/NOPE/ranking/full_application",
                            data={"fingerprint": "abc", "reauth_password": PASSWORD,
                                  "reauth_code": code_at(secret, steps())})
    assert confirmed.status_code == 404


def test_the_api_is_not_asked_to_reauthenticate(client, steps):
    """Bearer tokens are their own credential: no session, no re-authentication."""
    manager = ManagerFactory()
    enrol(manager, steps)
    from grants.services import tokens

    raw = tokens.create_token(manager, "robot").secret
    answer = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert answer.status_code == 200


def test_staff_tokens_work_only_once_two_factor_login_is_on(app, client, steps):
    """The website holds staff without two-factor login on the set-up page; so does the API."""
    from grants.services import tokens

    manager, applicant = ManagerFactory(), UserFactory()
    manager_token = tokens.create_token(manager, "robot").secret
    applicant_token = tokens.create_token(applicant, "script").secret

    def me(secret: str):  # type: ignore[no-untyped-def]
        return client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})

    refused = me(manager_token)
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "unauthorised"
    assert "two-factor" in refused.get_json()["message"]
    assert me(applicant_token).status_code == 200  # not required of applicants

    enrol(manager, steps)
    assert me(manager_token).status_code == 200

    two_factor.reset(manager, AdminFactory())  # a lost phone: the token waits for enrolment
    assert me(manager_token).status_code == 401

    app.config["TWO_FACTOR_REQUIRED"] = False
    assert me(manager_token).status_code == 200


# --------------------------------------------------------------------------
# The secret at rest
# --------------------------------------------------------------------------


def test_the_secret_is_sealed_with_the_secret_key(app):
    sealed = two_factor.seal_secret("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert two_factor.seal_secret("JBSWY3DPEHPK3PXP") != sealed  # a nonce each time
    assert two_factor.open_secret(sealed) == "JBSWY3DPEHPK3PXP"
    tampered = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(two_factor.SecretUnreadable):
        two_factor.open_secret(tampered)
    app.config["SECRET_KEY"] = "another key"
    with pytest.raises(two_factor.SecretUnreadable):
        two_factor.open_secret(sealed)


def test_without_the_requirement_staff_log_in_with_the_password(app, client):
    app.config["TWO_FACTOR_REQUIRED"] = False
    manager = ManagerFactory()
    assert password_step(client, manager).status_code == 302
    assert client.get("/manage/grants/").status_code == 200


# --------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------


def test_demo_staff_are_enrolled_with_the_printed_key(app, runner, client, steps):
    from grants.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET

    result = runner.invoke(args=["grants", "demo-data"])
    assert result.exit_code == 0, result.output
    assert "manager@mmd.example.org" in result.output
    assert f"two-factor key {DEMO_TOTP_SECRET}" in result.output
    manager = db.session.scalar(select(User).where(User.email == "manager@mmd.example.org"))
    assert manager.two_factor_enabled
    first = client.post("/account/login",
                        data={"email": manager.email, "password": DEMO_PASSWORD})
    assert first.headers["Location"].endswith("/account/login/code")
    done = client.post("/account/login/code", data={"code": code_at(DEMO_TOTP_SECRET, steps())})
    assert done.status_code == 302
    assert client.get("/manage/grants/").status_code == 200
    # Applicants are not enrolled: the password is enough for them.
    owner = db.session.scalar(select(User).where(User.email == "contact@asmd.example.sn"))
    assert not owner.two_factor_enabled


def _token(client, path: str) -> str:  # type: ignore[no-untyped-def]
    """The CSRF token of the page's first form. Requests share the test's `g`, where
    Flask-WTF caches the token: forget it, as a new request would."""
    g.pop("csrf_token", None)
    page = client.get(path)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_the_confirmation_carries_the_csrf_token_of_the_first_submission(app, client, steps):
    app.config["WTF_CSRF_ENABLED"] = True
    admin = AdminFactory()
    secret, _codes = enrol(admin, steps)
    person = UserFactory()
    token = _token(client, "/account/login")
    client.post("/account/login",
                data={"email": admin.email, "password": PASSWORD, "csrf_token": token})
    token = _token(client, "/account/login/code")
    done = client.post("/account/login/code",
                       data={"code": code_at(secret, steps()), "csrf_token": token})
    assert done.status_code == 302
    steps.advance()
    token = _token(client, f"/account/users/{person.id}")
    make_stale(client)
    asked = client.post(f"/account/users/{person.id}/roles",
                        data={"roles": ["evaluator"], "csrf_token": token})
    assert asked.status_code == 200 and f'name="csrf_token" value="{token}"' in asked.text
    # Without the token the confirmation is refused like any other form.
    forged = client.post(f"/account/users/{person.id}/roles",
                         data={"roles": ["evaluator"], "reauth_password": PASSWORD,
                               "reauth_code": code_at(secret, steps())})
    assert forged.status_code == 400
    confirmed = client.post(f"/account/users/{person.id}/roles",
                            data={"roles": ["evaluator"], "csrf_token": token,
                                  "reauth_password": PASSWORD,
                                  "reauth_code": code_at(secret, steps())})
    assert confirmed.status_code == 302
    db.session.refresh(person)
    assert person.roles == {"evaluator"}
