"""Two-factor login pages: set up (QR code, first code, recovery codes shown once), status,
new recovery codes, turning it off; and the page that confirms it is still you."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from forms.account import ActionForm, EnrolForm, ReauthForm

from ...models import User
from ...services import two_factor
from ...services.errors import DomainError
from . import _safe_next, bp
from .session_auth import is_recent, mark_recent, recent_login_required, verify_identity


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _codes_page(codes: list[str], target: str) -> Response:
    response = make_response(
        render_template("account/recovery_codes.html", codes=codes, target=target)
    )
    # Shown once: never kept by the browser's cache or history.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/two-factor")
@login_required
def two_factor_status() -> str:
    user = _user()
    return render_template(
        "account/two_factor.html",
        user=user,
        required=two_factor.required_for(user),
        remaining=two_factor.remaining_recovery_codes(user) if user.two_factor_enabled else 0,
        form=ActionForm(),
    )


@bp.route("/two-factor/setup", methods=["GET", "POST"])
@login_required
def two_factor_setup() -> Response | str:
    user = _user()
    target = _safe_next(request.args.get("next"))
    if user.two_factor_enabled:
        return redirect(url_for("account.two_factor_status"))
    # A session hijacked later must not enrol its own phone: a recent login is needed
    # (staff arrive here straight from the password, which counts).
    if not is_recent():
        return redirect(url_for("account.confirm", next=request.full_path))
    secret = two_factor.pending_secret(user)
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm_enrolment(user, form.code.data)
        except DomainError as exc:
            form.code.errors = [_(exc.template, **exc.params)]
        else:
            mark_recent(two_factor_done=True)
            return _codes_page(codes, target)
    uri = two_factor.provisioning_uri(user, secret)
    response = make_response(render_template(
        "account/two_factor_setup.html",
        form=form,
        secret=secret,
        grouped=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
        qr=two_factor.qr_svg(uri, title=_("QR code to scan with your authenticator app")),
        required=two_factor.required_for(user),
    ))
    response.headers["Cache-Control"] = "no-store"  # the page shows the secret
    return response


@bp.post("/two-factor/recovery-codes")
@login_required
@recent_login_required
def two_factor_recovery_codes() -> Response:
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("account.two_factor_status"))
    try:
        codes = two_factor.regenerate_recovery_codes(_user())
    except DomainError as exc:
        flash(_(exc.template, **exc.params), "error")
        return redirect(url_for("account.two_factor_status"))
    return _codes_page(codes, url_for("account.two_factor_status"))


@bp.post("/two-factor/disable")
@login_required
@recent_login_required
def two_factor_disable() -> Response:
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("account.two_factor_status"))
    try:
        two_factor.disable(_user())
    except DomainError as exc:
        flash(_(exc.template, **exc.params), "error")
    else:
        session.pop("auth_2fa", None)
        flash(_("Two-factor login is off. We have sent you a message about it."), "info")
    return redirect(url_for("account.two_factor_status"))


@bp.route("/confirm", methods=["GET", "POST"])
@login_required
def confirm() -> Response | str | tuple[str, int]:
    """Prove it is still you (password, and code with two-factor login), then go on."""
    user = _user()
    target = _safe_next(request.values.get("next"))
    form = ReauthForm()
    error = None
    status = 200
    if form.validate_on_submit():
        refusal = verify_identity(user, form.reauth_password.data, form.reauth_code.data or "")
        if refusal is None:
            return redirect(target)
        error, status = refusal
    elif request.method == "POST":
        error = _("Type your password.")
    return render_template(
        "account/reauth.html",
        form=form,
        action=url_for("account.confirm", next=target),
        kept=None,
        error=error,
        two_factor_on=user.two_factor_enabled,
    ), status
