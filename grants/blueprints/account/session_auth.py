"""How a browser session becomes logged in, and how recent that login is.

A login is complete once every factor the account needs was given: the password, then a
code when two-factor login is on (before that, the session only holds a pending login,
and `login_user` has not been called). Staff who must use two-factor login and have not
set it up are logged in with their password only, and every page but the set-up sends
them there until they have.

Sensitive acts (awarding, approving payments, changing roles, security settings) need a
recent proof of identity: a login, or a confirmation, at most REAUTH_MAX_AGE_SECONDS ago,
measured on the real clock as session lifetimes are. A POST that comes too late is not
lost: the confirmation form is shown with the posted fields kept in it, and submitting it
sends the original request again with the password (and code) added.

The API is not concerned: it reads Bearer tokens, never this session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user, user_logged_in
from werkzeug.exceptions import Unauthorized

from forms.account import ReauthForm

from ...extensions import db
from ...models import User
from ...services import two_factor
from ...services.accounts import authenticate, login_throttle, two_factor_throttle

PENDING_KEY = "login_pending"
AUTH_AT_KEY = "auth_at"
AUTH_2FA_KEY = "auth_2fa"
# How long the code step of a login waits after the password.
PENDING_SECONDS = 5 * 60
REAUTH_FIELDS = ("reauth_password", "reauth_code", "reauth_submit")

# Pages a staff member without two-factor login may still open.
SETUP_ENDPOINTS = frozenset(
    {"account.two_factor_setup", "account.logout", "account.language", "account.confirm",
     "static"}
)

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------
# Completing a login
# --------------------------------------------------------------------------


def complete_login(user: User, *, two_factor_done: bool) -> None:
    """Log the user in for this session, with the factors given (a fresh login)."""
    session.clear()
    g.two_factor_login = True  # tells the guard below this login went through the steps
    login_user(user)
    session.permanent = True
    session["language"] = user.language
    mark_recent(two_factor_done=two_factor_done)


def mark_recent(*, two_factor_done: bool) -> None:
    session[AUTH_AT_KEY] = time.time()
    if two_factor_done:
        session[AUTH_2FA_KEY] = True


def start_pending(user: User, next_url: str) -> None:
    """The password was right; the code is still to come. Nothing is logged in yet."""
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    session[PENDING_KEY] = {"uid": user.id, "at": time.time(), "next": next_url}


def pending_login() -> tuple[User, str] | None:
    """The user whose password was given in this session, and where they were going."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, pending.get("uid"))
    if user is None or not user.active or not user.two_factor_enabled:
        session.pop(PENDING_KEY, None)
        return None
    return user, str(pending.get("next") or url_for("home.index"))


def is_recent() -> bool:
    at = session.get(AUTH_AT_KEY)
    if not isinstance(at, (int, float)):
        return False
    return 0 <= time.time() - at <= int(current_app.config["REAUTH_MAX_AGE_SECONDS"])


# --------------------------------------------------------------------------
# Proving it is still you
# --------------------------------------------------------------------------


def verify_identity(user: User, password: str, code: str) -> tuple[str, int] | None:
    """None when the password (and code, with two-factor login) are right; else why not,
    with the status to answer (429 once the attempts are spent)."""
    client = request.remote_addr
    account_key = f"user:{user.id}"
    if login_throttle.blocked(user.email, client) or two_factor_throttle.blocked(
        account_key, client
    ):
        return _("Too many failed attempts. Wait 15 minutes and try again."), 429
    found = authenticate(user.email, password) if password else None
    if found is None or found.id != user.id:
        login_throttle.failed(user.email, client)
        return _("The password is not right."), 200
    if user.two_factor_enabled:
        if not code.strip():
            return _("Type the code your authenticator app shows now, or a recovery code."), 200
        if two_factor.check_code(user, code) is None:
            two_factor_throttle.failed(account_key, client)
            return _("The code is not right, or was used already. Type the code shown now."), 200
        two_factor_throttle.succeeded(account_key)
    mark_recent(two_factor_done=user.two_factor_enabled)
    return None


def _kept_fields() -> list[tuple[str, str]]:
    return [
        (name, value)
        for name in request.form
        if name not in REAUTH_FIELDS
        for value in request.form.getlist(name)
    ]


def recent_login_required_when(applies: Callable[..., bool]) -> Callable[[F], F]:
    """`recent_login_required` for the calls where `applies(**view_args)` is true only
    (e.g. one event of a view that fires several)."""

    def decorate(view: F) -> F:
        guarded = recent_login_required(view)

        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            chosen = guarded if applies(**kwargs) else view
            return chosen(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def recent_login_required(view: F) -> F:
    """Refuse the view until the user proved who they are within the re-authentication window.

    GET: redirect to the confirmation page, which comes back here. POST: answer with the
    confirmation form carrying the posted fields; it posts them back here, and the view
    then runs as if the first submission had been fresh. Nothing changes before that.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
        if is_recent():
            return view(*args, **kwargs)
        if request.method != "POST":
            return redirect(url_for("account.confirm", next=request.full_path))
        refusal = None
        if "reauth_password" in request.form:
            refusal = verify_identity(
                current_user._get_current_object(),
                request.form.get("reauth_password", "")[:200],
                request.form.get("reauth_code", "")[:20],
            )
            if refusal is None:
                return view(*args, **kwargs)
        error, status = refusal or (None, 200)
        return render_template(
            "account/reauth.html",
            form=ReauthForm(formdata=None),
            action=request.full_path if request.query_string else request.path,
            kept=_kept_fields(),
            error=error,
            two_factor_on=current_user.two_factor_enabled,
        ), status

    return cast(F, wrapper)


# --------------------------------------------------------------------------
# Guards for every request
# --------------------------------------------------------------------------


def _gate() -> Any:
    """Keep half-logged-in sessions to what they may do."""
    if request.endpoint is None or request.blueprint == "api" or request.endpoint == "static":
        return None
    if not current_user.is_authenticated:
        return None
    user = current_user._get_current_object()
    if user.two_factor_enabled and not session.get(AUTH_2FA_KEY):
        # Logged in without the code (a session from before, or another way in): again.
        next_url = request.full_path if request.method == "GET" else None
        logout_user()
        session.clear()
        flash(_("Log in again: this account uses two-factor login."), "info")
        return redirect(url_for("account.login", next=next_url))
    if two_factor.missing(user):
        if request.endpoint in SETUP_ENDPOINTS:
            return None
        flash(_("Staff accounts use two-factor login: set it up to continue."), "info")
        next_url = request.full_path if request.method == "GET" else None
        return redirect(url_for("account.two_factor_setup", next=next_url))
    return None


def _refuse_single_factor_login(sender: Flask, user: User, **_extra: Any) -> None:
    """A login elsewhere in the app (e.g. saving a form after the session ended) that skipped
    the code step: refused for accounts that need it, before the view goes on."""
    if g.pop("two_factor_login", False):
        return
    if two_factor.needed(user):
        logout_user()
        raise Unauthorized(_("Log in from the login page: this account uses two-factor login."))


def init_app(app: Flask) -> None:
    app.before_request(_gate)
    user_logged_in.connect(_refuse_single_factor_login, app)
