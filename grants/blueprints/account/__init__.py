"""Accounts: register, verify the address, log in and out, reset the password, language."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response

from forms.account import (
    CodeForm,
    EmailForm,
    LanguageForm,
    LoginForm,
    NewPasswordForm,
    RegistrationForm,
)

from ...services import registration, two_factor
from ...services.accounts import authenticate, login_throttle, two_factor_throttle
from ...services.errors import ValidationFailed
from . import session_auth
from .session_auth import (
    complete_login,
    pending_login,
    start_pending,
)

bp = Blueprint("account", __name__, url_prefix="/account")
bp.record_once(lambda state: session_auth.init_app(state.app))


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a person to another site after login."""
    if (
        target
        and urlsplit(target).netloc == ""
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return url_for("home.index")


def _verify_link(token: str) -> str:
    return url_for("account.verify", token=token, _external=True)


def _reset_link(token: str) -> str:
    return url_for("account.reset", token=token, _external=True)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        client = request.remote_addr
        if login_throttle.blocked(form.email.data, client):
            flash(_("Too many failed attempts. Wait 15 minutes and try again."), "error")
            status = 429
        else:
            user = authenticate(form.email.data, form.password.data)
            if user is None:
                login_throttle.failed(form.email.data, client)
                flash(_("The email or password is not right."), "error")
            elif user.email_verified_at is None:
                flash(_("Confirm your email address first: open the link we sent you."), "error")
            else:
                login_throttle.succeeded(form.email.data)
                target = _safe_next(request.args.get("next"))
                if user.two_factor_enabled:
                    # Not logged in yet: the code comes first.
                    start_pending(user, target)
                    return redirect(url_for("account.login_code"))
                complete_login(user, two_factor_done=False)
                if two_factor.required_for(user):
                    flash(_("Staff accounts use two-factor login: set it up to continue."), "info")
                    return redirect(url_for("account.two_factor_setup", next=target))
                return redirect(target)
    return render_template("account/login.html", form=form), status


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Response | str | tuple[str, int]:
    """The second step of a login: a code from the app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    pending = pending_login()
    if pending is None:
        flash(_("Log in again: the step for the code waits 5 minutes at most."), "info")
        return redirect(url_for("account.login"))
    user, target = pending
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        client = request.remote_addr
        account_key = f"user:{user.id}"
        if two_factor_throttle.blocked(account_key, client):
            flash(_("Too many failed attempts. Wait 15 minutes and try again."), "error")
            status = 429
        else:
            kind = two_factor.check_code(user, form.code.data)
            if kind is None:
                two_factor_throttle.failed(account_key, client)
                form.code.errors = [
                    _("The code is not right, or was used already. Type the code shown now.")
                ]
            else:
                two_factor_throttle.succeeded(account_key)
                complete_login(user, two_factor_done=True)
                if kind == "recovery":
                    left = two_factor.remaining_recovery_codes(user)
                    flash(
                        _("You used a recovery code; %(count)d left. Make new ones if few "
                          "remain.", count=left),
                        "info",
                    )
                return redirect(target)
    return render_template("account/login_code.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> Response:
    language = current_user.language
    logout_user()
    session.clear()
    session["language"] = language
    flash(_("You are logged out."), "info")
    return redirect(url_for("public.index"))


@bp.route("/register", methods=["GET", "POST"])
def register() -> Response | str:
    form = RegistrationForm()
    if request.method == "GET":
        form.language.data = session.get("language") or request.accept_languages.best_match(
            ["en", "fr"], "en"
        )
    if form.validate_on_submit():
        try:
            registration.register(
                form.email.data,
                form.name.data,
                form.password.data,
                form.language.data,
                _verify_link,
                _reset_link,
            )
        except ValidationFailed as exc:
            for field, errors in exc.fields.items():
                getattr(form, field, form.email).errors = list(errors)
        else:
            session["language"] = form.language.data
            return redirect(url_for("account.check_mail"))
    return render_template("account/register.html", form=form)


@bp.get("/check-your-mail")
def check_mail() -> str:
    return render_template("account/check_mail.html", form=EmailForm())


@bp.post("/verify/resend")
def resend() -> Response:
    form = EmailForm()
    if form.validate_on_submit():
        registration.resend_verification(form.email.data, _verify_link)
    return redirect(url_for("account.check_mail"))


@bp.get("/verify/<token>")
def verify(token: str) -> Response | tuple[str, int]:
    try:
        registration.verify_email(token)
    except registration.InvalidLink as exc:
        return render_template("account/link_invalid.html", message=exc.message), 400
    flash(_("Your email address is confirmed. You can log in."), "info")
    return redirect(url_for("account.login"))


@bp.route("/forgot", methods=["GET", "POST"])
def forgot() -> Response | str:
    form = EmailForm()
    if form.validate_on_submit():
        registration.request_password_reset(form.email.data, _reset_link)
        flash(
            _("If an account uses this address, we have sent it a link to choose a new password."),
            "info",
        )
        return redirect(url_for("account.login"))
    return render_template("account/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Response | str | tuple[str, int]:
    try:
        registration.user_for_reset(token)
    except registration.InvalidLink as exc:
        return render_template("account/link_invalid.html", message=exc.message), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        registration.reset_password(token, form.password.data)
        flash(_("Your password is changed. You can log in."), "info")
        return redirect(url_for("account.login"))
    return render_template("account/reset.html", form=form)


@bp.post("/language")
def language() -> Response:
    form = LanguageForm()
    if form.validate_on_submit():
        session["language"] = form.language.data
        if current_user.is_authenticated:
            registration.set_language(current_user._get_current_object(), form.language.data)
    target = request.form.get("next")
    return redirect(_safe_next(target) if target else url_for("public.index"))


# The two-factor pages and the administrators' account pages add their routes to `bp`.
from . import two_factor_pages, users  # noqa: E402, F401
