"""Administration: failed mail deliveries, with their error and a retry button."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from forms.notifications import ActionForm

from ...policy import is_admin
from ...services import notifications
from ...services.errors import DomainError

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _admins_only() -> None:
    if not is_admin(current_user._get_current_object()):
        abort(403)


@bp.get("/deliveries")
def deliveries() -> str:
    return render_template(
        "admin/deliveries.html",
        failed=notifications.failed_deliveries(),
        retrying=notifications.retrying_deliveries(),
        form=ActionForm(),
    )


@bp.post("/deliveries/<int:outbox_id>/retry")
def retry(outbox_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        message = notifications.retry_delivery(outbox_id, current_user._get_current_object())
    except DomainError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Message {outbox_id} to {message.recipient_email}: {message.status}.", "success")
    return redirect(url_for(".deliveries"))
