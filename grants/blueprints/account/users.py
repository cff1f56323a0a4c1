"""Administrators' account pages: staff roles and resetting a user's two-factor login.

Both changes need a recent login of the administrator, and are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from forms.account import ActionForm, RolesForm

from ...extensions import db
from ...models import User
from ...policy import is_admin
from ...services import two_factor
from ...services.accounts import list_users, set_roles
from ...services.errors import DomainError
from . import bp
from .session_auth import recent_login_required

F = TypeVar("F", bound=Callable[..., Any])


def _admin() -> User:
    user = current_user._get_current_object()
    if not is_admin(user):
        abort(403)
    return user  # type: ignore[no-any-return]


def admins_only(view: F) -> F:
    """403 for anyone else, before any confirmation of identity is asked."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _admin()
        return view(*args, **kwargs)

    return cast(F, wrapper)


def _target(user_id: int) -> User:
    found = db.session.get(User, user_id)
    if found is None:
        abort(404)
    return found


@bp.get("/users/")
@login_required
def users() -> str:
    _admin()
    search = request.args.get("q", "")[:100]
    return render_template("account/users.html", users=list_users(search), search=search)


@bp.get("/users/<int:user_id>")
@login_required
def user(user_id: int) -> str:
    _admin()
    found = _target(user_id)
    return render_template(
        "account/user.html",
        user=found,
        roles_form=RolesForm(formdata=None, roles=sorted(found.roles)),
        reset_form=ActionForm(),
        remaining=two_factor.remaining_recovery_codes(found) if found.two_factor_enabled else 0,
    )


@bp.post("/users/<int:user_id>/roles")
@login_required
@admins_only
@recent_login_required
def user_roles(user_id: int) -> Response:
    admin = _admin()
    found = _target(user_id)
    form = RolesForm()
    if not form.validate_on_submit():
        flash(_("Choose among the roles listed."), "error")
        return redirect(url_for("account.user", user_id=user_id))
    try:
        changed = set_roles(found, form.roles.data or [], admin)
    except DomainError as exc:
        if exc.status in (403, 404):
            abort(exc.status)
        flash(_(exc.template, **exc.params), "error")
    else:
        flash(_("Roles saved.") if changed else _("Nothing to change."), "info")
    return redirect(url_for("account.user", user_id=user_id))


@bp.post("/users/<int:user_id>/two-factor/reset")
@login_required
@admins_only
@recent_login_required
def user_two_factor_reset(user_id: int) -> Response:
    admin = _admin()
    found = _target(user_id)
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("account.user", user_id=user_id))
    try:
        two_factor.reset(found, admin)
    except DomainError as exc:
        flash(_(exc.template, **exc.params), "error")
    else:
        flash(
            _("Two-factor login of %(name)s is reset: they set it up again at their next "
              "login.", name=found.name),
            "info",
        )
    return redirect(url_for("account.user", user_id=user_id))
