"""The access matrix: every route of the URL map, requested as every kind of user.

`ROUTES` below names every endpoint and, for each method it accepts, the status each kind
of user gets, in the columns of `KINDS`:

    anonymous  owner_a  owner_b  evaluator  evaluator_unassigned  evaluator_recused
    manager  admin

URL parameters are filled from one world (tests/access_matrix_fixtures.py) with A's
objects, so owner_b asks for what another organisation owns: the answer is 404, never
403, because one may not learn that something exists. Each cell is

    200, 400, 403, 404...  that exact status
    302                    a redirect elsewhere than the login page
    login                  a redirect to the login page
    ok                     (POST only) the person may: the form is taken or shown again
                           with its errors (200, 201, 302, 303, 400, 409 or 422)

A POST whose cell is not `ok` must leave the database as it was, row for row. The API's
refusals must carry their stable JSON code, and no page that someone outside A (anonymous,
owner_b, evaluator_unassigned) may open may name A, its application or its grant.

A new route fails `test_every_route_of_the_url_map_is_in_the_matrix` until it has an entry
here (the failure says which, and the line to add); an entry for an endpoint that no longer
exists fails it too. Several `Case`s for one endpoint point its URL at different objects.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from sqlalchemy import event, select
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Rule

from grants.extensions import db
from grants.models import BUDGET_HEADINGS
from tests.access_matrix_fixtures import KINDS, PDF_BYTES, World, build_world
from tests.factories import PASSWORD

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
OK_STATUSES = frozenset({200, 201, 302, 303, 400, 409, 422})

# -------------------------------------------------------------------------- groups
#                 anon  ownA  ownB  eval  evNo  evRec mgr   admin
PUBLIC = "        200   200   200   200   200   200   200   200"
PUBLIC_POST = "   ok    ok    ok    ok    ok    ok    ok    ok"
SIGNED_IN = "     login 200   200   200   200   200   200   200"
SIGNED_IN_POST = "login ok    ok    ok    ok    ok    ok    ok"
OWNER_A_POST = "  login ok    404   404   404   404   404   404"
EVALUATORS = "    login 403   403   200   200   200   403   403"
MANAGERS = "      login 403   403   403   403   403   200   403"
MANAGERS_POST = " login 403   403   403   403   403   ok    403"
STAFF = "         login 403   403   403   403   403   200   200"
STAFF_POST = "    login 403   403   403   403   403   ok    ok"
ADMINS = "        login 403   403   403   403   403   403   200"
ADMINS_POST = "   login 403   403   403   403   403   403   ok"
# A's application, grant, payment or report: its members and the programme staff.
OF_A = "          login 200   404   404   404   404   200   200"
# Changing what A owns: A's owner may; staff may know it exists but not act as applicant.
OF_A_POST = "     login ok    404   404   404   404   403   403"
GRANTEE_OR_MANAGER_POST = "login ok 404   404   404   404   ok    403"

# The API answers 401 without a token, and JSON errors with the same statuses.
#                 anon  ownA  ownB  eval  evNo  evRec mgr   admin
API_PUBLIC = "    200   200   200   200   200   200   200   200"
API_SIGNED_IN = " 401   200   200   200   200   200   200   200"
API_OF_A = "      401   200   404   404   404   404   200   200"


@dataclass(frozen=True)
class Case:
    """One way of requesting an endpoint: expectations per method, where its URL points."""

    get: str | None = None
    post: str | None = None
    on: dict[str, str] = field(default_factory=dict)  # URL parameter -> world key
    args: dict[str, Any] = field(default_factory=dict)  # URL parameter -> literal value
    form: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # world values -> body
    json: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    label: str = ""

    def expected(self, method: str) -> str | None:
        return {"GET": self.get, "POST": self.post}.get(method)


def api_cases(read: dict[str, str]) -> tuple[Case, ...]:
    """One case per API collection: its object of A and the expected statuses of a GET."""
    return tuple(
        Case(get=expectation, on={"object_id": API_OBJECTS[name]}, args={"collection": name},
             label=name)
        for name, expectation in read.items()
    )


API_OBJECTS = {
    "calls": "call_id",
    "applications": "app_eval",
    "assignments": "assignment",
    "grants": "grant",
    "payments": "payment",
    "reports": "report",
}
API_READ = {
    #                 anon  ownA  ownB  eval  evNo  evRec mgr   admin
    "calls": "        401   200   200   200   200   200   200   200",
    "applications": " 401   200   404   200   404   404   200   200",
    "assignments": "  401   404   404   200   404   404   200   200",
    "grants": API_OF_A,
    "payments": API_OF_A,
    "reports": API_OF_A,
}


def _fire(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda w: {"name": name, "comment": "access matrix"}


# Transitions through the API: each collection's event, refused to whoever may not fire it.
API_FIRE = {
    #                            anon  ownA  ownB  eval  evNo  evRec mgr   admin
    "calls": ("close", "         401   403   403   403   403   403   ok    403"),
    "applications": ("withdraw", "401   ok    404   403   404   404   403   403"),
    "assignments": ("submit", "  401   404   404   ok    404   404   403   403"),
    "grants": ("suspend", "      401   403   404   404   404   404   ok    403"),
    "payments": ("request", "    401   ok    404   404   404   404   403   403"),
    "reports": ("submit", "      401   ok    404   404   404   404   403   403"),
}


def _csv(_w: dict[str, Any]) -> dict[str, Any]:
    return {"format": "csv"}


def _upload(_w: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "other", "file": (io.BytesIO(PDF_BYTES), "support.pdf")}


# ------------------------------------------------------------------------ the matrix

ROUTES: dict[str, Case | tuple[Case, ...]] = {
    "static": Case(get=PUBLIC, args={"filename": "css/app.css"}),
    # --- visitors
    "public.index": Case(get=PUBLIC),
    "public.call": Case(get=PUBLIC),
    "public.check": Case(get=PUBLIC, post=PUBLIC_POST,
                         form=lambda w: {"org_type": "cso", "country_iso2": "SN"}),
    "home.index": Case(get=SIGNED_IN),
    "operations.healthz": Case(get=PUBLIC),
    #                                          anon  ownA  ownB  eval  evNo  evRec mgr   admin
    "public.call_document": (
        Case(get=PUBLIC, label="open call"),
        Case(get="                             404   404   404   404   404   404   200   404",
             on={"code": "draft_call_code", "document_id": "draft_call_document"},
             label="draft call"),
    ),
    # --- accounts
    #                                   anon  ownA  ownB  eval  evNo  evRec mgr   admin
    "account.login": Case(get="         200   302   302   302   302   302   302   302",
                          post=PUBLIC_POST,
                          form=lambda w: {"email": "nobody@example.org", "password": "wrong"}),
    "account.logout": Case(post=SIGNED_IN_POST),
    "account.register": Case(get=PUBLIC, post=PUBLIC_POST, form=lambda w: {"email": ""}),
    "account.check_mail": Case(get=PUBLIC),
    "account.resend": Case(post=PUBLIC_POST, form=lambda w: {"email": "nobody@example.org"}),
    "account.verify": Case(get="        400   400   400   400   400   400   400   400",
                           on={"token": "bad_link"}),
    # Asked for a link: back to the login page, whoever asks and for whatever address.
    "account.forgot": Case(get=PUBLIC, post="login login login login login login login login",
                           form=lambda w: {"email": "nobody@example.org"}),
    "account.reset": Case(get="         400   400   400   400   400   400   400   400",
                          post="        400   400   400   400   400   400   400   400",
                          on={"token": "bad_link"},
                          form=lambda w: {"password": PASSWORD, "confirm": PASSWORD}),
    "account.language": Case(post=PUBLIC_POST, form=lambda w: {"language": "en"}),
    # Two-factor login: the second step only follows a password given in this session.
    #                                          anon  ownA  ownB  eval  evNo  evRec mgr   admin
    "account.login_code": Case(get="           login 302   302   302   302   302   302   302",
                               post="          login 302   302   302   302   302   302   302",
                               form=lambda w: {"code": "000000"}),
    "account.confirm": Case(get=SIGNED_IN, post=SIGNED_IN_POST,
                            form=lambda w: {"reauth_password": PASSWORD}),
    "account.two_factor_status": Case(get=SIGNED_IN),
    "account.two_factor_setup": Case(get=SIGNED_IN, post=SIGNED_IN_POST,
                                     form=lambda w: {"code": "000000"}),
    "account.two_factor_disable": Case(post=SIGNED_IN_POST),
    "account.two_factor_recovery_codes": Case(post=SIGNED_IN_POST),
    # Administrators' account pages, about the unassigned evaluator; granting the
    # administrator role is what nobody else may do.
    "account.users": Case(get=ADMINS),
    "account.user": Case(get=ADMINS, on={"user_id": "evaluator_unassigned_id"}),
    "account.user_roles": Case(post=ADMINS_POST, on={"user_id": "evaluator_unassigned_id"},
                               form=lambda w: {"roles": ["evaluator", "admin"]}),
    "account.user_two_factor_reset": Case(post=ADMINS_POST,
                                          on={"user_id": "evaluator_unassigned_id"}),
    "tokens.index": Case(get=SIGNED_IN),
    "tokens.create": Case(post=SIGNED_IN_POST, form=lambda w: {"name": "laptop"}),
    "tokens.revoke": Case(post=OWNER_A_POST),  # owner A's own token
    # --- notifications (owner A's notification)
    "notifications.index": Case(get=SIGNED_IN),
    "notifications.mark_read": Case(post=OWNER_A_POST, form=lambda w: {"read": "1"}),
    "notifications.mark_all_read": Case(post=SIGNED_IN_POST),
    "notifications.preferences": Case(get=SIGNED_IN, post=SIGNED_IN_POST,
                                      form=lambda w: {"delivery": "digest"}),
    # --- administrators
    "admin.deliveries": Case(get=ADMINS),
    "admin.retry": Case(post=ADMINS_POST),
    # --- applicants: organisations and starting
    "applicant.dashboard": Case(get=SIGNED_IN),
    "applicant.new_organisation": Case(get=SIGNED_IN, post=SIGNED_IN_POST,
                                       form=lambda w: {"name": ""}),
    #                                          anon  ownA  ownB  eval  evNo  evRec mgr   admin
    "applicant.organisation": Case(get="       login 200   404   404   404   404   404   404",
                                   post=OWNER_A_POST,
                                   form=lambda w: {"email": "friend@example.org",
                                                   "role": "editor"}),
    "applicant.invitation": Case(
        get=SIGNED_IN,
        # The invitation is for another address: nobody here may take it.
        post="                             login 403   403   403   403   403   403   403"),
    "applicant.start": Case(
        get=SIGNED_IN,
        # Only A's members may start an application for A; the others see the form again.
        post="                             login ok    200   200   200   200   200   200",
        form=lambda w: {"organisation_id": w["org_a"]}),
    # --- applicants: the form of A's application (under evaluation; the draft for changes)
    "applicant.overview": Case(get=OF_A),
    "applicant.section": (
        Case(get=OF_A, args={"key": "summary"}, label="under evaluation"),
        Case(post="                         401   ok    404   404   404   404   403   403",
             on={"application_id": "app_draft"}, args={"key": "summary"}, label="draft",
             form=lambda w: {"title": "Changed by someone", "text": "Changed."}),
    ),
    "applicant.attachments_page": (
        Case(get=OF_A, label="under evaluation"),
        Case(post=OF_A_POST, on={"application_id": "app_draft"}, form=_upload, label="draft"),
    ),
    "applicant.download": Case(get=OF_A),
    "applicant.delete_attachment": Case(
        post=OF_A_POST, on={"application_id": "app_draft", "attachment_id": "attachment_draft"}),
    "applicant.preview": Case(get=OF_A),
    "applicant.submit": Case(post=OF_A_POST, on={"application_id": "app_draft"}),
    "applicant.withdraw": Case(post=OF_A_POST, on={"application_id": "app_draft"},
                               form=lambda w: {"reason": "matrix"}),
    "applicant.receipt": Case(get=OF_A),
    # Released with the decision, to the organisation's members only.
    #                                          anon  ownA  ownB  eval  evNo  evRec mgr   admin
    "applicant.decision_letter": Case(get="    login 200   404   404   404   404   404   404",
                                      on={"application_id": "app_awarded"}),
    "applicant.evaluation_summary": Case(
        get="                                  login 200   404   404   404   404   404   404",
        on={"application_id": "app_awarded"}, args={"stage": "concept_note"}),
    "applicant.receipt_pdf": Case(get=OF_A),
    # --- evaluators (the assigned evaluator's assignment; the recused one's)
    "evaluation.dashboard": Case(get=EVALUATORS),
    #                                          anon  ownA  ownB  eval  evNo  evRec mgr   admin
    "evaluation.assignment": (
        Case(get="                             login 404   404   200   404   404   200   404"),
        Case(get="                             login 404   404   404   404   404   200   404",
             on={"assignment_id": "assignment_recused"}, label="recused"),
    ),
    "evaluation.declare": Case(  # the evaluator's invitation to evaluate B's application
        post="                                 login 404   404   ok    404   404   403   404",
        on={"assignment_id": "assignment_invited"}, form=lambda w: {"conflict": "no"}),
    "evaluation.scores": Case(
        post="                                 login 404   404   ok    404   404   403   404",
        form=lambda w: {"save": "y"}),
    "evaluation.summary": Case(
        get="                                  login 200   404   404   404   404   200   404",
        on={"application_id": "app_awarded"}, args={"stage": "concept_note"}),
    # --- programme managers: evaluation
    "manage.overview": Case(get=MANAGERS),
    "manage.grid": Case(get=MANAGERS),
    "manage.grid_default": Case(post=MANAGERS_POST),
    "manage.grid_settings": Case(post=MANAGERS_POST,
                                 form=lambda w: {"total_threshold": "30"}),
    "manage.grid_section": Case(post=MANAGERS_POST,
                                form=lambda w: {"code": "extra", "title": "Extra"}),
    "manage.grid_section_delete": Case(post=MANAGERS_POST),
    "manage.grid_criterion": Case(post=MANAGERS_POST, form=lambda w: {
        "section_id": w["grid_section"], "code": "9.9", "title": "Extra", "weight": "1"}),
    "manage.grid_criterion_delete": Case(post=MANAGERS_POST),
    "manage.admin_checks": Case(get=MANAGERS),
    "manage.admin_check_form_view": Case(get=MANAGERS, post=MANAGERS_POST),
    "manage.panel": Case(get=MANAGERS),
    "manage.panel_add": Case(post=MANAGERS_POST,
                             form=lambda w: {"evaluator_id": w["panel_evaluator"]}),
    "manage.panel_remove": Case(post=MANAGERS_POST),
    "manage.auto_assign": Case(post=MANAGERS_POST),
    "manage.assign": Case(post=MANAGERS_POST, form=lambda w: {
        "application_id": w["app_eval"], "evaluator_id": w["panel_evaluator"],
        "comment": "matrix"}),
    "manage.remove_assignment": Case(post=MANAGERS_POST,
                                     form=lambda w: {"comment": "matrix", "replace": ""}),
    "manage.reopen_assignment": Case(post=MANAGERS_POST, form=lambda w: {"comment": "matrix"}),
    "manage.results": Case(get=MANAGERS),
    "manage.compute_results": Case(post=MANAGERS_POST),
    "manage.consensus": Case(get=MANAGERS, post=MANAGERS_POST,
                             form=lambda w: {"justification": "matrix"}),
    "manage.ranking": Case(get=MANAGERS),
    "manage.confirm": Case(post=MANAGERS_POST, form=lambda w: {"fingerprint": "stale"}),
    "manage.committee_report": Case(get=MANAGERS),
    "manage.documents": Case(get=MANAGERS, post=MANAGERS_POST, form=lambda w: {
        "title": "Budget template", "language": "en", "kind": "budget_template",
        "file": (io.BytesIO(PDF_BYTES), "budget.pdf")}),
    "manage.document_delete": Case(post=MANAGERS_POST),
    "manage.documents_guidelines": Case(post=MANAGERS_POST),
    # --- programme managers: grants
    "grants_admin.index": Case(get=MANAGERS),
    "grants_admin.grant": Case(get=MANAGERS),
    "grants_admin.award": Case(post=MANAGERS_POST, on={"application_id": "app_awarded"},
                               form=lambda w: {"amount": "100000"}),
    "grants_admin.send": Case(post=MANAGERS_POST),
    "grants_admin.countersign": Case(post=MANAGERS_POST),
    "grants_admin.fire": Case(post=MANAGERS_POST, args={"event": "suspend"}),
    "grants_admin.payment_event": Case(post=MANAGERS_POST, args={"event": "approve"}),
    "grants_admin.report": Case(get=MANAGERS),
    "grants_admin.report_event": Case(post=MANAGERS_POST, args={"event": "approve"}),
    "grants_admin.decide": Case(post=MANAGERS_POST,
                                form=lambda w: {"decision": "refuse", "comment": "matrix"}),
    # --- programme staff: dashboard, lists, exports, audit
    "dashboard.index": Case(get=STAFF),
    "dashboard.programme_report": Case(get=STAFF),
    "dashboard.list_page": Case(get=STAFF),
    "dashboard.export": Case(post=STAFF_POST, form=_csv),
    "dashboard.exports": Case(get=STAFF),
    #                                          anon  ownA  ownB  eval  evNo  evRec mgr   admin
    "dashboard.download": Case(get="           login 403   403   403   403   403   200   404"),
    "dashboard.application": Case(get=STAFF),
    "dashboard.grant": Case(get=STAFF),
    "dashboard.audit_log": Case(get=STAFF),
    # --- grantees: A's grant
    "grantee.index": Case(get=SIGNED_IN),
    "grantee.grant": Case(get=OF_A),
    "grantee.contract_pdf": Case(get=OF_A),
    "grantee.signed_copy": Case(get=OF_A),
    "grantee.letter": Case(get=OF_A, on={"application_id": "app_awarded"}),
    "grantee.sign": Case(post=OF_A_POST, form=lambda w: {
        "name": "Someone", "document_sha256": w["contract_sha256"], "confirm": "y"}),
    "grantee.sign_upload": Case(post=OF_A_POST, form=lambda w: {
        "name": "Someone", "file": (io.BytesIO(PDF_BYTES), "signed.pdf")}),
    # A manager may record a change or an addendum request on the grantee's behalf.
    "grantee.notify": Case(post=GRANTEE_OR_MANAGER_POST, form=lambda w: {
        "change": "address", "description": "We moved.", "address": "1 New Street",
        "from_heading": BUDGET_HEADINGS[0], "to_heading": BUDGET_HEADINGS[1]}),
    "grantee.addendum": Case(post=GRANTEE_OR_MANAGER_POST,
                             form=lambda w: {"description": "Two more months."}),
    "grantee.request_payment": Case(post=OF_A_POST),
    "grantee.report": Case(get=OF_A, post=OF_A_POST, form=lambda w: {
        "summary": "Changed.", **{f"spent_{h}": "10" for h in BUDGET_HEADINGS}}),
    "grantee.submit_report": Case(post=OF_A_POST),
    # --- the API, with each kind's token
    "api.openapi": Case(get=API_PUBLIC),
    "api.open_data_iati": Case(get=API_PUBLIC),
    "api.open_data_360giving": Case(get=API_PUBLIC),
    "api.open_data_jvap": Case(get=API_PUBLIC),
    "api.me": Case(get=API_SIGNED_IN),
    "api.index": tuple(
        Case(get=API_SIGNED_IN, args={"collection": name}, label=name) for name in API_OBJECTS
    ),
    "api.read": api_cases(API_READ),
    "api.object_history": api_cases(API_READ),
    "api.fire": tuple(
        Case(post=expectation, on={"object_id": API_OBJECTS[name]}, args={"collection": name},
             json=_fire(event), label=f"{name} {event}")
        for name, (event, expectation) in API_FIRE.items()
    ),
}

# URL parameters filled from the world unless a case says otherwise: A's objects.
DEFAULT_PARAMETERS = {
    "code": "call_code",
    "application_id": "app_eval",
    "attachment_id": "attachment_eval",
    "organisation_id": "org_a",
    "assignment_id": "assignment",
    "grant_id": "grant",
    "payment_id": "payment",
    "report_id": "report",
    "signature_id": "signature",
    "amendment_id": "amendment",
    "notification_id": "notification",
    "token_id": "spare_token",
    "outbox_id": "outbox_failed",
    "job_id": "export_job",
    "section_id": "grid_section",
    "criterion_id": "criterion",
    "user_id": "panel_evaluator",
    "document_id": "call_document",
    "token": "invitation",
}
DEFAULT_LITERALS = {"stage": "concept_note", "name": "applications", "key": "summary"}


# ------------------------------------------------------------------------ machinery


def cases_of(endpoint: str) -> tuple[Case, ...]:
    entry = ROUTES[endpoint]
    return entry if isinstance(entry, tuple) else (entry,)


def expectation(cell_row: str) -> dict[str, str]:
    cells = cell_row.split()
    assert len(cells) == len(KINDS), f"{cell_row!r}: one cell per kind of user {KINDS}"
    return dict(zip(KINDS, cells, strict=True))


def rules_by_endpoint(app: Flask) -> dict[str, list[Rule]]:
    found: dict[str, list[Rule]] = {}
    for rule in app.url_map.iter_rules():
        found.setdefault(rule.endpoint, []).append(rule)
    return found


def methods_of(rules: list[Rule]) -> set[str]:
    return {m for rule in rules for m in (rule.methods or ()) if m in METHODS}


def _how_to_add(endpoint: str, methods: set[str]) -> str:
    cells = ", ".join(f'{m.lower()}="<{len(KINDS)} cells: {" ".join(KINDS)}>"'
                      for m in sorted(methods))
    return f'add to ROUTES in tests/test_access_matrix.py: "{endpoint}": Case({cells}),'


def test_every_route_of_the_url_map_is_in_the_matrix(app: Flask) -> None:
    rules = rules_by_endpoint(app)
    problems = []
    for endpoint in sorted(set(rules) - set(ROUTES)):
        problems.append(f"{endpoint} ({rules[endpoint][0].rule}) has no entry: "
                        + _how_to_add(endpoint, methods_of(rules[endpoint])))
    for endpoint in sorted(set(ROUTES) - set(rules)):
        problems.append(f"{endpoint} is in the matrix but no longer in the URL map: remove it")
    for endpoint in sorted(set(ROUTES) & set(rules)):
        accepted = methods_of(rules[endpoint])
        declared = set()
        for case in cases_of(endpoint):
            for method in METHODS:
                cell = case.expected(method)
                if cell is None:
                    continue
                declared.add(method)
                expectation(cell)
                if method not in accepted:
                    problems.append(f"{endpoint} {case.label}: {method} is not a method of it")
        for method in sorted(accepted - declared):
            problems.append(f"{endpoint} accepts {method} but the matrix says nothing of it")
    assert not problems, "The access matrix and the URL map differ:\n" + "\n".join(problems)


def test_a_post_only_route_refuses_other_methods_to_everyone(app: Flask) -> None:
    """A GET on a form's target is a 405 before anything else runs (nobody is even asked
    to log in), so a link can never trigger a change."""
    adapter = app.url_map.bind("localhost")
    client = app.test_client()
    checked = 0
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" in (rule.methods or ()):
                continue
            values = {name: _sample(rule, name) for name in rule.arguments}
            path = url_for(rule.endpoint, **values)
            try:
                adapter.match(path, "GET")
            except MethodNotAllowed:
                pass
            except NotFound:  # pragma: no cover - the URL was just built from the rule
                raise
            else:
                continue  # another rule answers GET at this path (a page and its form)
            response = client.get(path)
            assert response.status_code == 405, (rule.endpoint, path, response.status_code)
            checked += 1
    assert checked > 30


def _sample(rule: Rule, name: str) -> Any:
    converter = rule._converters[name]
    allowed = getattr(converter, "items", None)
    if allowed:
        return sorted(allowed)[0]
    return 1 if type(converter).__name__ == "IntegerConverter" else "x"


@dataclass(frozen=True)
class Planned:
    kind: str
    endpoint: str
    method: str
    case: Case
    cell: str
    path: str

    @property
    def changes_nothing(self) -> bool:
        """A refused form: the database must be as it was."""
        return self.method != "GET" and self.cell != "ok"

    def describe(self) -> str:
        label = f", {self.case.label}" if self.case.label else ""
        return f"{self.kind}: {self.method} {self.path} ({self.endpoint}{label})"


# Forms that may be taken are sent last, in this order: each kind's changes are then
# ones the kinds after it are still allowed to meet (the manager suspends the grant last).
TAKEN_ORDER = ("anonymous", "owner_b", "evaluator_unassigned", "evaluator_recused",
               "evaluator", "admin", "owner_a", "manager")


def plan(app: Flask, world: World) -> list[Planned]:
    """Every request of the matrix: every kind's pages, then every refused form (which must
    change nothing, so the order does not matter), then the forms that are taken, logging
    out at the very end."""
    rules = rules_by_endpoint(app)
    planned = []
    with app.test_request_context():
        for endpoint in sorted(set(ROUTES) & set(rules)):
            arguments = set().union(*(r.arguments for r in rules[endpoint]))
            for case in cases_of(endpoint):
                values = {}
                for name in arguments:
                    if name in case.args:
                        values[name] = case.args[name]
                    elif name in case.on:
                        values[name] = world.values[case.on[name]]
                    elif name in DEFAULT_PARAMETERS:
                        values[name] = world.values[DEFAULT_PARAMETERS[name]]
                    else:
                        values[name] = DEFAULT_LITERALS[name]
                path = url_for(endpoint, **values)
                for method in METHODS:
                    cell = case.expected(method)
                    if cell is None:
                        continue
                    for kind, expected in expectation(cell).items():
                        planned.append(Planned(kind, endpoint, method, case, expected, path))

    def phase(p: Planned) -> tuple[int, int]:
        if p.endpoint == "account.logout":
            return (3, TAKEN_ORDER.index(p.kind))
        if p.method == "GET":
            return (0, 0)
        if p.changes_nothing:
            return (1, 0)
        return (2, TAKEN_ORDER.index(p.kind))

    return sorted(planned, key=phase)


# Kinds who know nothing of A: no page they may open names A, its application or grant,
# except those that are public by design (published open data) or made for them (an
# invitation to join A names A to its holder).
OUTSIDERS = ("anonymous", "owner_b", "evaluator_unassigned")
NAMES_A_BY_DESIGN = frozenset({"applicant.invitation", "api.open_data_iati",
                               "api.open_data_360giving", "api.open_data_jvap"})


# The API's refusals are JSON with a stable code (grants/services/errors.py).
API_ERROR_CODES = {401: "unauthorised", 403: "forbidden", 404: "not_found"}


def api_code_wrong(request: Planned, response: Any) -> str | None:
    expected = API_ERROR_CODES.get(response.status_code)
    if not request.path.startswith("/api/") or expected is None:
        return None
    body = response.get_json(silent=True) or {}
    return None if body.get("code") == expected else f"code {body.get('code')!r}, not {expected!r}"


def leaked(request: Planned, response: Any, world: World) -> list[str]:
    if (request.kind not in OUTSIDERS or response.status_code != 200
            or request.endpoint in NAMES_A_BY_DESIGN):
        return []
    body = response.get_data(as_text=True) if response.mimetype.startswith(
        ("text/", "application/json")) else ""
    return [name for name in world.values["secrets_of_a"] if name and name in body]


# Written by reading, not by changing anything: the token's last use.
MOVING_COLUMNS = {("api_tokens", "last_used_at")}


def fingerprint() -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table: what a refused form must leave exactly as it was."""
    db.session.rollback()
    rows = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if (table.name, c.name) not in MOVING_COLUMNS]
        rows[table.name] = sorted(
            tuple(repr(v) for v in row) for row in db.session.execute(select(*columns))
        )
    return rows


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


def verdict(cell: str, method: str, response: Any) -> str | None:
    """None when the response is what the cell says, otherwise what it was instead."""
    status = response.status_code
    location = urlsplit(response.headers.get("Location", "")).path
    to_login = status == 302 and location.startswith("/account/login")
    got = f"{status} {location}".strip()
    if cell == "login":
        return None if to_login else got
    if cell == "ok":
        assert method != "GET", "`ok` is for forms; a page has one exact status"
        return None if status in OK_STATUSES and not to_login else got
    if int(cell) == 302:
        return None if status == 302 and not to_login else got
    return None if status == int(cell) else got


def log_in(client: Any, user: Any) -> None:
    with client.application.app_context():
        response = client.post("/account/login",
                               data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, f"cannot log in as {user.email}: {response.status_code}"
    assert not urlsplit(response.headers["Location"]).path.startswith("/account/login")


def send(client: Any, request: Planned, world: World) -> Any:
    # Each request in its own application context, as in production: its own `g` (where the
    # signed-in user is kept) and its own database session.
    with client.application.app_context():
        return _send(client, request, world)


def _send(client: Any, request: Planned, world: World) -> Any:
    headers = {}
    if request.path.startswith("/api/") and request.kind in world.api_secrets:
        headers["Authorization"] = f"Bearer {world.api_secrets[request.kind]}"
    if request.method == "GET":
        return client.get(request.path, headers=headers)
    if request.case.json is not None:
        return client.open(request.path, method=request.method, headers=headers,
                           json=request.case.json(world.values))
    data = request.case.form(world.values) if request.case.form else {}
    return client.open(request.path, method=request.method, headers=headers, data=data)


class WriteCounter:
    """Counts the statements that write, so an unchanged database is not read again."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.count += 1


def problems(request: Planned, response: Any, world: World) -> list[str]:
    """How the response departs from the matrix: status, the API's code, names of A."""
    found = []
    wrong = verdict(request.cell, request.method, response)
    if wrong is not None:
        found.append(f"{request.describe()}: expected {request.cell}, got {wrong}")
    code_wrong = api_code_wrong(request, response)
    if code_wrong is not None:
        found.append(f"{request.describe()}: {code_wrong}")
    for name in leaked(request, response, world):
        found.append(f"{request.describe()}: shows {name!r}, which is A's")
    return found


def test_every_route_answers_each_kind_of_user_as_the_matrix_says(
    app: Flask, frozen_clock: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(app, "instance_path", str(tmp_path))  # export files stay in tmp
    world = build_world()
    clients = {kind: app.test_client() for kind in KINDS}
    for kind, user in world.users.items():
        if user is not None:
            log_in(clients[kind], user)
    mismatches = []
    writes = WriteCounter()
    event.listen(db.engine, "before_cursor_execute", writes)
    try:
        known: dict[str, Any] | None = None  # the database, while nothing has written to it
        for request in plan(app, world):
            if request.changes_nothing and known is None:
                known = fingerprint()
            written = writes.count
            response = send(clients[request.kind], request, world)
            db.session.rollback()
            mismatches += problems(request, response, world)
            if writes.count == written:
                continue
            if request.changes_nothing:
                after = fingerprint()
                changed = changed_tables(known or {}, after)
                if changed:
                    mismatches.append(f"{request.describe()}: refused with {response.status_code}"
                                      f" but changed {', '.join(changed)}")
                known = after
            else:
                known = None
    finally:
        event.remove(db.engine, "before_cursor_execute", writes)
    assert not mismatches, f"{len(mismatches)} request(s) differ from the access matrix:\n" + (
        "\n".join(mismatches))


def test_logging_in_again_from_a_section_opens_no_portal_page_to_an_evaluator(
    app: Flask, frozen_clock: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A section saved after the session ended logs in from the page itself: an evaluator
    doing so on the application they evaluate gets the 404 of the portal, and saves nothing."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    world = build_world()
    evaluator = world.users["evaluator"]
    assert evaluator is not None
    before = fingerprint()
    with app.app_context():
        response = app.test_client().post(
            f"/applicant/applications/{world.values['app_eval']}/sections/summary",
            data={"email": evaluator.email, "password": PASSWORD, "title": "Changed"},
        )
    assert response.status_code == 404
    assert changed_tables(before, fingerprint()) == []
