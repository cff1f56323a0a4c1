"""The signed-in user's notifications (read and unread) and mail preferences."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from forms.notifications import ActionForm, PreferencesForm

from ... import labels
from ...models import Notification
from ...services import notifications

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def object_name(notification: Notification) -> str:
    """What the notification is about, in the page's language where its label is known."""
    label = str(notification.context.get("object") or "")
    return labels.object_name(label, str(get_locale() or "en"), notification.object_type)


@bp.get("/")
@login_required
def index() -> str:
    user = current_user._get_current_object()
    unread_only = request.args.get("show") == "unread"
    items = notifications.list_for(user, unread_only=unread_only)
    return render_template(
        "notifications/index.html",
        items=items,
        objects={n.id: object_name(n) for n in items},
        unread=notifications.unread_count(user),
        unread_only=unread_only,
        form=ActionForm(),
    )


@bp.post("/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int) -> Response:
    if ActionForm().validate_on_submit():
        read = request.form.get("read", "1") == "1"
        notifications.mark_read(current_user._get_current_object(), notification_id, read)
    return redirect(url_for(".index", show=request.args.get("show")))


@bp.post("/read-all")
@login_required
def mark_all_read() -> Response:
    if ActionForm().validate_on_submit():
        notifications.mark_all_read(current_user._get_current_object())
    return redirect(url_for(".index"))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> str | Response:
    user = current_user._get_current_object()
    saved = notifications.preference(user)
    form = PreferencesForm(
        data=None if request.method == "POST" else
        {"delivery": saved.delivery, "reminders": saved.reminders}
    )
    if form.validate_on_submit():
        notifications.save_preferences(user, form.delivery.data, bool(form.reminders.data))
        flash(_("Your notification preferences are saved."), "success")
        return redirect(url_for(".preferences"))
    return render_template("notifications/preferences.html", form=form)
