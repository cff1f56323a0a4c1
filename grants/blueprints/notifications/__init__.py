"""The signed-in user's notifications (read and unread) and mail preferences."""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from forms.notifications import ActionForm, PreferencesForm

from ...models import Notification
from ...services import notifications

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

# The services record what a notification is about by its English label (the models'
# `label`); these are the shapes of those labels, so the list can name them in the
# reader's language. Anything else (an application's title) is shown as written.
_APPLICATION = re.compile(r"Application (?P<reference>\S+)")
_GRANT = re.compile(r"Grant (?P<number>\S+)")
_PAYMENT = re.compile(r"Payment (?P<sequence>\d+) of Grant (?P<number>\S+)")
_REPORT = re.compile(r"(?P<kind>Interim|Final) report (?P<sequence>\d+) of Grant (?P<number>\S+)")
_ASSIGNMENT = re.compile(
    r"Assignment (?P<id>\d+) \((?P<evaluator>.+) on Application (?P<reference>\S+)\)"
)


def object_name(notification: Notification) -> str:
    """What the notification is about, in the page's language where its label is known."""
    label = str(notification.context.get("object") or "")
    kind = notification.object_type
    if kind == "applications" and (found := _APPLICATION.fullmatch(label)):
        return _("Application %(reference)s", reference=found["reference"])
    if kind == "grants" and (found := _GRANT.fullmatch(label)):
        return _("Grant %(number)s", number=found["number"])
    if kind == "payments" and (found := _PAYMENT.fullmatch(label)):
        return _("Payment %(sequence)s of Grant %(number)s", **found.groupdict())
    if kind == "reports" and (found := _REPORT.fullmatch(label)):
        if found["kind"] == "Interim":
            return _("Interim report %(sequence)s of Grant %(number)s",
                     sequence=found["sequence"], number=found["number"])
        return _("Final report %(sequence)s of Grant %(number)s",
                 sequence=found["sequence"], number=found["number"])
    if kind == "assignments" and (found := _ASSIGNMENT.fullmatch(label)):
        return _("Assignment %(id)s (%(evaluator)s on Application %(reference)s)",
                 **found.groupdict())
    return label


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
