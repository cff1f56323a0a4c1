"""Programme managers and administrators: the dashboard, the lists and their exports,
the pages of an application and of a grant with their history, and the audit log."""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required

from forms.notifications import ActionForm
from reports.charts import bar_chart, funnel_chart
from reports.pdf import render_pdf

from ...clock import now
from ...models import User
from ...policy import is_admin, is_manager
from ...services import audit, export_jobs, lists
from ...services import dashboard as figures
from ...services.errors import NotFound, PermissionDenied
from ...services.transitions import history

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def may_see_programme(user: object) -> bool:
    """Programme figures, lists and the audit log: programme managers and administrators."""
    return is_manager(user) or is_admin(user)  # type: ignore[arg-type]


@bp.before_request
@login_required
def _staff_only() -> None:
    if not may_see_programme(current_user._get_current_object()):
        raise PermissionDenied("programme managers and administrators only")


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def charts(board: figures.Dashboard) -> dict[str, object]:
    """The dashboard's charts, as SVG markup, keyed like its tables."""
    made: dict[str, object] = {
        "funnel": funnel_chart(
            "From submission to award", [(label, n) for _k, label, n in board.funnel],
            chart_id="chart-funnel",
        ),
        "states": bar_chart(
            "Applications by state",
            [(state.replace("_", " "), n) for state, n in sorted(board.states.items())],
            chart_id="chart-states",
        ),
    }
    for key, title in figures.BREAKDOWNS:
        made[key] = bar_chart(
            f"Applications {title[0].lower()}{title[1:]}",
            [(row.label, row.applications) for row in board.breakdowns.get(key, [])],
            chart_id=f"chart-{key}",
        )
    money_rows = [r for r in board.money if r.lot_code is None]
    if money_rows:
        made["money"] = bar_chart(
            "Money of the calls (envelope, requested, awarded, committed, paid)",
            [(f"{r.call_code} {what}", getattr(r, what)) for r in money_rows
             for what in ("envelope", "requested", "awarded", "committed", "paid")],
            unit=money_rows[0].currency, chart_id="chart-money",
        )
    return made


# --------------------------------------------------------------------------
# Dashboard and programme report
# --------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    shown = figures.page_figures(figures.parse_filters(request.args))
    return render_template(
        "dashboard/index.html", board=shown.board, charts=charts(shown.board),
        choices=shown.choices, computed_at=shown.computed_at,
        breakdown_titles=figures.BREAKDOWNS,
    )


@bp.get("/programme-report.pdf")
def programme_report() -> Response:
    shown = figures.page_figures(figures.parse_filters(request.args))
    board, choices = shown.board, shown.choices
    moment = shown.computed_at
    pdf = render_pdf("programme_report.html", {
        "language": "en",
        "document": {"title": "Programme report", "author": "MMD Grant Facility",
                     "created": moment.date().isoformat(), "modified": moment.date().isoformat()},
        "board": board,
        "charts": charts(board),
        "breakdown_titles": figures.BREAKDOWNS,
        "call_names": dict(choices["calls"]),
        "dialogue_names": dict(choices["dialogues"]),
        "generated": moment.strftime("%Y-%m-%d %H:%M UTC"),
    })
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="programme-report-{moment:%Y%m%d}.pdf"'})


# --------------------------------------------------------------------------
# Lists and exports
# --------------------------------------------------------------------------


def _spec(name: str) -> lists.ListSpec:
    spec = lists.spec_named(name)
    if spec is None:
        abort(404)
    return spec


@bp.get("/lists/<name>")
def list_page(name: str) -> str:
    spec = _spec(name)
    query = lists.parse_query(spec, request.args)
    return render_template(
        f"lists/{spec.name}.html", page=lists.page(spec, query), spec=spec,
        filters=lists.filter_options(spec), form=ActionForm(),
        inline_limit=export_jobs.inline_limit(), today=now().date(),
    )


@bp.post("/lists/<name>/export")
def export(name: str) -> Response:
    spec = _spec(name)
    if not ActionForm().validate_on_submit():
        abort(400)
    fmt = request.form.get("format", "")
    if fmt not in export_jobs.FORMATS:
        abort(400)
    query = lists.parse_query(spec, request.form)
    params = query.params()
    if lists.count(spec, query) <= export_jobs.inline_limit():
        if fmt == "csv":
            text = io.StringIO()
            export_jobs.write(spec, query, fmt, text)
            body = text.getvalue().encode("utf-8")
        else:
            binary = io.BytesIO()
            export_jobs.write(spec, query, fmt, binary)
            body = binary.getvalue()
        return Response(body, mimetype=export_jobs.FORMATS[fmt], headers={
            "Content-Disposition":
                f'attachment; filename="{export_jobs.file_name(spec, fmt)}"'})
    job = export_jobs.start(spec.name, params, fmt, _user())
    flash(f"The export is being prepared (job {job.id}); download it from this page "
          "when it is ready.", "info")
    return redirect(url_for(".exports"))


@bp.get("/exports")
def exports() -> str:
    return render_template("lists/exports.html", jobs=export_jobs.jobs_of(_user()))


@bp.get("/exports/<int:job_id>/download")
def download(job_id: int) -> Response:
    found = export_jobs.download(job_id, _user())
    return send_file(found.path, mimetype=found.mimetype, as_attachment=True,
                     download_name=found.name)


# --------------------------------------------------------------------------
# Object pages with their history
# --------------------------------------------------------------------------


@bp.get("/applications/<int:application_id>")
def application(application_id: int) -> str:
    found = lists.application_detail(application_id)
    if found is None:
        raise NotFound("no such application")
    application, grant = found
    return render_template("dashboard/application.html", application=application, grant=grant,
                           events=history(application))


@bp.get("/grants/<int:grant_id>")
def grant(grant_id: int) -> str:
    found = lists.grant_detail(grant_id)
    if found is None:
        raise NotFound("no such grant")
    objects = [("grants", found.id)]
    objects += [("payments", p.id) for p in found.payments]
    objects += [("reports", r.id) for r in found.reports]
    return render_template("dashboard/grant.html", grant=found, today=now().date(),
                           events=audit.object_history(objects))


# --------------------------------------------------------------------------
# The audit log
# --------------------------------------------------------------------------


def _int_arg(key: str) -> int | None:
    value = request.args.get(key, "")
    return int(value) if value.isdigit() else None


@bp.get("/audit")
def audit_log() -> str:
    filters = audit.parse_filters(request.args)
    page = audit.events(filters, before=_int_arg("before"), after=_int_arg("after"))
    return render_template(
        "audit/index.html", page=page, filters=filters,
        event_names=audit.event_names(), object_types=audit.object_types(),
    )
