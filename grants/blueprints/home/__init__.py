"""The signed-in home page: what the person's roles let them see."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from ...policy import is_admin, is_manager
from ...services import listings

bp = Blueprint("home", __name__, url_prefix="/home")


@bp.get("/")
@login_required
def index() -> str:
    user = current_user._get_current_object()
    manager_view = is_manager(user) or is_admin(user)
    return render_template(
        "home/index.html",
        applications=listings.organisation_applications(user),
        assignments=listings.evaluator_assignments(user) if user.has_role("evaluator") else [],
        calls=listings.all_calls() if manager_view else listings.public_calls(),
        pipeline=listings.pipeline_counts() if manager_view else {},
        recent=listings.recent_applications() if manager_view else [],
        grants=listings.grants_overview() if manager_view else [],
        manager_view=manager_view,
    )
