"""Property-based: generated posts to every HTML form of the application.

Each form endpoint has an entry below: who posts there, to which object, and the
fields the form reads (WTForms classes under ``forms/`` and the fields some
views read by hand). Hypothesis posts values built from plausible ones mixed
with hostile ones: any unicode, control characters and NUL, huge strings,
numbers as text in every notation, negative and huge amounts, impossible dates,
missing fields, fields given twice, and junk fields. For every post:

* never a server error (5xx);
* the answer is a page (the form shown again, or the result), a refusal page
  (4xx) or a redirect to this site;
* a refusal (a 4xx, a page shown again, or a redirect with an error message)
  changes nothing in the database, by a fingerprint of every table (row counts,
  versions, sums of numbers, lengths of texts).

`test_every_form_endpoint_is_fuzzed` keeps the list complete: a new POST route
without an entry fails it. The JSON API is covered by the schemathesis tests.
"""

from __future__ import annotations

import io
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import g
from flask_login.utils import _create_identifier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from sqlalchemy import (
    JSON,
    Boolean,
    Integer,
    Numeric,
    Text,
    cast,
    func,
    literal_column,
    select,
)
from werkzeug.datastructures import MultiDict

from grants.blueprints.account.session_auth import AUTH_2FA_KEY, AUTH_AT_KEY, PENDING_KEY
from grants.extensions import db
from grants.models import (
    BUDGET_HEADINGS,
    Assignment,
    Attachment,
    Notification,
    OutboxMessage,
    User,
)
from grants.services import (
    admin_check,
    amendments,
    applications,
    call_documents,
    organisations,
    panels,
    registration,
    reporting,
    selection,
    tokens,
    two_factor,
)
from grants.services.lists import LISTS
from grants.services.transitions import transition
from tests.factories import (
    PASSWORD,
    AdminFactory,
    ApplicationFactory,
    CallFactory,
    GrantFactory,
    ManagerFactory,
    UserFactory,
    sign_as_grantee,
)
from tests.test_evaluation_services import build

EXAMPLES = 25  # per form: enough to reach every branch of a view, short enough for CI
BUTTON_EXAMPLES = 10  # forms that are a bare button
# The statuses a form post may answer with.
ALLOWED = {200, 201, 302, 303, 400, 401, 403, 404, 405, 409, 413, 422, 429}
STAGES = ("concept_note", "full_application")


# ---------------------------------------------------------------- values

NASTY_TEXTS = [
    "", " ", "\x00", "a\x00b", "\t\r\n", "\u202eexe.pdf", "\ufeff", "\u200b", "😀" * 50,
    "0", "-0", "-1", "-0.01", "0.001", "1e309", "-1e309", "1E+2", "NaN", "nan", "Infinity",
    "-Infinity", "99999999999999999999999999.99", "1" * 400, "0x1F", "1_000", "١٢٣",
    "\uff11\uff12\uff13", "½", "12,5", "1.2.3", "2026-02-30", "0000-00-00", "9999-12-31",
    "31/12/2026", "2026-13-01", "-2026-01-01", "2026-1-1", "<script>alert(1)</script>",
    "' OR 1=1 --", "%s%s%n", "{{7*7}}", "${7*7}", "../../etc/passwd", "//evil.example/",
    "javascript:alert(1)", "null", "None", "true", "[]", "{}",
]
HUGE = ["x" * 100_000, "é" * 20_000, "9" * 5_000]
NASTY = st.one_of(
    st.sampled_from(NASTY_TEXTS),
    st.text(max_size=60),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=8),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(HUGE),
)


def one(*values: object) -> SearchStrategy[str]:
    return st.sampled_from([str(v) for v in values])


TEXT = st.one_of(one("Safe migration", "Reason given", "A"), st.text(max_size=40))
EMAIL = one("awa.diop@example.org", "new.person@example.org", "not-an-email", "a@b", "@")
AMOUNT = st.one_of(
    st.decimals(min_value=-(10**15), max_value=10**15, places=2, allow_nan=False).map(str),
    one("0", "0.01", "100000", "150000.00", "120000", "-5"),
)
NUMBER = st.one_of(st.integers(min_value=-(10**6), max_value=10**6).map(str), one("1", "6", "12"))
DATE = st.one_of(st.dates(min_value=date(1, 1, 1)).map(date.isoformat),
                 one("2027-01-01", "2027-08-31", "2026-12-15"))
FLAG = one("y", "1", "on", "", "n")


def ids(*values: object) -> SearchStrategy[str]:
    """A real id and ids that are not: another object's, zero, negative, huge, not a number."""
    return st.one_of(one(*values), one("0", "-1", "99999999", "99999999999999999999999", "x1"))


# ---------------------------------------------------------------- the world the forms post to


class World:
    """The objects the forms post to, built on first use: each test builds what it needs.

    Properties give ids and strings only, so that a post deleting or changing an
    object never leaves the test holding a stale row.
    """

    # -- people
    @cached_property
    def manager(self) -> int:
        return ManagerFactory().id

    @cached_property
    def admin(self) -> int:
        return AdminFactory().id

    @cached_property
    def stranger(self) -> int:
        return UserFactory().id

    # -- an open call, a draft and its owner
    @cached_property
    def _draft(self) -> Any:
        return ApplicationFactory(call=CallFactory())

    @cached_property
    def call_code(self) -> str:
        return str(self._draft.call.code)

    @cached_property
    def draft_id(self) -> int:
        return int(self._draft.id)

    @cached_property
    def owner(self) -> int:
        return int(self._draft.created_by_id)

    @cached_property
    def owner_email(self) -> str:
        return str(self._draft.created_by.email)

    @cached_property
    def organisation_id(self) -> int:
        return int(self._draft.organisation_id)

    @cached_property
    def attachment_id(self) -> int:
        return int(self._draft.attachments[0].id)

    @cached_property
    def grid_section_id(self) -> int:
        return int(self._draft.call.grid_for("concept_note").sections[0].id)

    @cached_property
    def criterion_id(self) -> int:
        return int(self._draft.call.grid_for("concept_note").sections[0].criteria[0].id)

    @cached_property
    def grid_codes(self) -> list[str]:
        return [s.code for s in self._draft.call.grid_for("concept_note").sections]

    @cached_property
    def token_id(self) -> int:
        owner = db.session.get(User, self.owner)
        return int(tokens.create_token(owner, "reporting script").token.id)

    @cached_property
    def invitation_token(self) -> str:
        owner = db.session.get(User, self.owner)
        return organisations.invitation_token(
            owner, self.organisation_id, "invited@example.org", "editor"
        )

    @cached_property
    def reset_token(self) -> str:
        return registration.reset_token(db.session.get(User, self.owner))

    @cached_property
    def notification_id(self) -> int:
        notification = Notification(user_id=self.owner, kind="application.submitted",
                                    context={})
        db.session.add(notification)
        db.session.commit()
        return int(notification.id)

    @cached_property
    def outbox_id(self) -> int:
        message = OutboxMessage(
            kind="account.password_reset", recipient_id=self.owner,
            recipient_email=self.owner_email, context={"link": "http://localhost/x"},
            status="failed", attempts=5, last_error="connection refused",
        )
        db.session.add(message)
        db.session.commit()
        return int(message.id)

    @cached_property
    def owner_enrolling(self) -> int:
        """The owner, with a two-factor key waiting for its first code (as after a visit)."""
        two_factor.pending_secret(db.session.get(User, self.owner))
        return self.owner

    @cached_property
    def _two_factor(self) -> tuple[int, list[str]]:
        user = UserFactory()
        secret = two_factor.pending_secret(user)
        step = int(time.time()) // two_factor.STEP_SECONDS
        codes = two_factor.confirm_enrolment(user, pyotp.HOTP(secret).at(step))
        return int(user.id), codes

    @cached_property
    def two_factor_user(self) -> int:
        return self._two_factor[0]

    @cached_property
    def recovery_code(self) -> str:
        return self._two_factor[1][0]

    @cached_property
    def document_id(self) -> int:
        manager = db.session.get(User, self.manager)
        call = self._draft.call
        found = call_documents.add_document(
            manager, call, title="Guidelines", language="en", kind="annex",
            filename="annex.pdf", stream=io.BytesIO(b"%PDF-1.4\n%%EOF\n"),
        )
        return int(found.id)

    # -- an evaluation under way: a panel, invited and accepted assignments
    @cached_property
    def _evaluation(self) -> Any:
        setup = build(count=2, evaluators=3)
        panels.auto_assign(setup.call, "concept_note", setup.manager)
        live = list(db.session.scalars(
            select(Assignment).where(Assignment.state == "invited").order_by(Assignment.id)
        ))
        accepted = live[-1]
        from grants.services import evaluation

        evaluation.declare(accepted, accepted.evaluator, has_conflict=False)
        return setup, live[0], accepted

    @cached_property
    def evaluation_code(self) -> str:
        return str(self._evaluation[0].call.code)

    @cached_property
    def evaluation_manager(self) -> int:
        return int(self._evaluation[0].manager.id)

    @cached_property
    def in_evaluation_id(self) -> int:
        return int(self._evaluation[0].applications[0].id)

    @cached_property
    def other_application_id(self) -> int:
        return int(self._evaluation[0].applications[1].id)

    @cached_property
    def panel_member(self) -> int:
        return int(self._evaluation[0].evaluators[0].id)

    @cached_property
    def invited_id(self) -> int:
        return int(self._evaluation[1].id)

    @cached_property
    def evaluator(self) -> int:
        return int(self._evaluation[1].evaluator_id)

    @cached_property
    def accepted_id(self) -> int:
        return int(self._evaluation[2].id)

    @cached_property
    def scorer(self) -> int:
        return int(self._evaluation[2].evaluator_id)

    @cached_property
    def criteria_ids(self) -> list[int]:
        grid = self._evaluation[2].application.call.grid_for("concept_note")
        return [c.id for s in grid.sections for c in s.criteria]

    @cached_property
    def ranking_fingerprint(self) -> str:
        return str(selection.build_proposal(self._evaluation[0].call, "concept_note").fingerprint)

    @cached_property
    def submitted_id(self) -> int:
        app = ApplicationFactory(call=CallFactory())
        transition(app, "submit", app.created_by)
        return int(app.id)

    @cached_property
    def selected_id(self) -> int:
        return int(ApplicationFactory(state="provisionally_selected").id)

    # -- grants: in preparation, awaiting signature, active with payments and reports
    @cached_property
    def prepared_grant_id(self) -> int:
        return int(GrantFactory().id)

    @cached_property
    def _awaiting(self) -> Any:
        grant = GrantFactory()
        transition(grant, "send_for_signature", db.session.get(User, self.manager))
        return grant

    @cached_property
    def awaiting_grant_id(self) -> int:
        return int(self._awaiting.id)

    @cached_property
    def awaiting_grantee(self) -> int:
        return int(self._awaiting.application.created_by_id)

    @cached_property
    def contract_hash(self) -> str:
        return str(self._awaiting.current_contract.document_sha256 or "0" * 64)

    @cached_property
    def _active(self) -> Any:
        manager = db.session.get(User, self.manager)
        grant = GrantFactory()
        transition(grant, "send_for_signature", manager)
        sign_as_grantee(grant, grant.application.created_by)
        transition(grant, "sign", manager)
        return grant

    @cached_property
    def grant_id(self) -> int:
        return int(self._active.id)

    @cached_property
    def grantee(self) -> int:
        return int(self._active.application.created_by_id)

    @cached_property
    def payment_id(self) -> int:
        return int(self._active.payments[0].id)

    @cached_property
    def report_id(self) -> int:
        return int(self._active.reports[0].id)

    @cached_property
    def report_fields(self) -> list[str]:
        names = []
        for row in reporting.narrative_rows(self._active.reports[0]):
            names.append(f"progress_{row.key}")
            names += [f"achieved_{i.key}" for i in row.indicators]
        return names

    @cached_property
    def amendment_id(self) -> int:
        grantee = db.session.get(User, self.grantee)
        found = amendments.request_addendum(
            self._active, grantee, "Three more months",
            {"amount": None, "end_date": date(2027, 8, 31), "other": ""},
        )
        return int(found.id)


# ---------------------------------------------------------------- the entries

Fields = dict[str, SearchStrategy[str]]
NO_HEADERS: SearchStrategy[dict[str, str]] = st.just({})


@dataclass(frozen=True)
class Target:
    """One form: who posts, where (a path filled from the world), and the fields it reads."""

    user: str | None
    path: str
    fields: Callable[[World], Fields] | Fields = field(default_factory=dict)
    choices: dict[str, SearchStrategy[str]] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    headers: SearchStrategy[dict[str, str]] = NO_HEADERS
    examples: int = EXAMPLES
    # Tables a refused post may still write (a partial save before a refused step).
    refusal_may_change: frozenset[str] = frozenset()
    # A login proved this recently (the views of sensitive acts ask for one); if not,
    # those views answer with the confirmation form, which is fuzzed too.
    recent: bool = True
    # More of the session: a login waiting for its code, for instance.
    session: Callable[[World], dict[str, Any]] | None = None
    # Whether some posts must get past the login, confirmation and set-up gates.
    reaches_view: bool = True
    # The view answers a success with a page (codes shown once), not a redirect.
    success_page: bool = False

    def path_names(self) -> list[str]:
        return [name for _t, name, _f, _c in string.Formatter().parse(self.path)
                if name and name not in self.choices]

    def field_strategies(self, world: World) -> Fields:
        return self.fields(world) if callable(self.fields) else self.fields


def _section_fields(world: World) -> Fields:
    fields: Fields = {
        "version": one("1", "2", "0", "-1", "x"), "continue": FLAG,
        "title": TEXT, "text": TEXT, "requested_amount": AMOUNT, "total_cost": AMOUNT,
        "duration_months": NUMBER, "primary": one("1", "3", "5", "6", "x"),
        "secondary": one("1", "2", "4", "9"), "dialogues": one("rabat", "khartoum", "c2cmmd", "x"),
        "countries": one("SN", "ML", "FR", "ZZ", "sn"), "has_co_applicant": FLAG,
        "co_name": TEXT, "co_org_type": one("cso", "diaspora", "x"),
        "co_country_iso2": one("SN", "FR", "ZZ"), "co_registration_number": TEXT,
        "target_groups": TEXT, "sustainability": TEXT,
    }
    for n in (0, 1, 79, 80):
        fields |= {f"objectives-{n}-{f}": TEXT
                   for f in ("objective", "result", "indicator", "baseline", "target")}
        fields |= {f"activities-{n}-activity": TEXT, f"activities-{n}-start_month": NUMBER,
                   f"activities-{n}-end_month": NUMBER, f"activities-{n}-responsible": TEXT}
        fields |= {f"lines-{n}-heading": one(*BUDGET_HEADINGS, "x"), f"lines-{n}-unit": TEXT,
                   f"lines-{n}-description": TEXT, f"lines-{n}-quantity": AMOUNT,
                   f"lines-{n}-unit_cost": AMOUNT}
    return fields


def _scores(world: World) -> Fields:
    fields: Fields = {"save": one("Save draft"), "submit_sheet": one("Submit", "")}
    for cid in world.criteria_ids:
        fields[f"score_{cid}"] = one(1, 2, 3, 4, 5, 0, 6)
        fields[f"comment_{cid}"] = TEXT
    return fields


def _grid_settings(world: World) -> Fields:
    return {"total_threshold": AMOUNT} | {f"minimum_{c}": AMOUNT for c in world.grid_codes}


def _consensus(world: World) -> Fields:
    return {"justification": TEXT} | {f"section_{c}": AMOUNT
                                      for c in ("relevance", "design", "capacity")}


def _admin_check(world: World) -> Fields:
    fields: Fields = {}
    for item in admin_check.ITEM_LABELS:
        fields[f"result_{item}"] = one("pass", "fail", "maybe")
        fields[f"reason_{item}"] = TEXT
    return fields


def _report(world: World) -> Fields:
    fields: Fields = {"summary": TEXT} | {name: TEXT for name in world.report_fields}
    return fields | {f"spent_{h}": AMOUNT for h in BUDGET_HEADINGS}


def _export(world: World) -> Fields:
    return {
        "format": one("csv", "xlsx", "pdf"), "call": ids(world.call_code),
        "state": one("draft", "submitted", "active", "x"), "dialogue": one("rabat", "x"),
        "org_type": one("cso", "x"), "country": one("SN", "x"), "kind": one("balance", "x"),
        "overdue": FLAG, "q": TEXT, "sort": one("newest", "reference", "amount", "x"),
        "dir": one("asc", "desc"), "size": NUMBER, "after": TEXT, "before": TEXT, "last": FLAG,
    }


GRID = "/manage/calls/{call_code}/grid/{stage}"
PANEL = "/manage/calls/{evaluation_code}/panel/{stage}"
STAGE = {"stage": one(*STAGES)}

TARGETS: dict[str, Target] = {
    # -- accounts
    "account.login": Target(None, "/account/login", lambda w: {
        "email": one(w.owner_email, "nobody@example.org", w.owner_email.upper()),
        "password": one(PASSWORD, "wrong password")}),
    "account.register": Target(None, "/account/register", lambda w: {
        "name": TEXT, "email": one(w.owner_email, "new.person@example.org", "x@"),
        "password": one("a long enough password", "short"),
        "confirm": one("a long enough password", "other"), "language": one("en", "fr", "de")}),
    "account.forgot": Target(None, "/account/forgot", lambda w: {
        "email": one(w.owner_email, "nobody@example.org")}),
    "account.reset": Target(None, "/account/reset/{reset_token}", {
        "password": one("a long enough password", "short"),
        "confirm": one("a long enough password", "x")}),
    "account.resend": Target(None, "/account/verify/resend", lambda w: {
        "email": one(w.owner_email, "nobody@example.org")}, examples=BUTTON_EXAMPLES),
    "account.language": Target("owner", "/account/language", {
        "language": one("en", "fr", "de"),
        "next": one("/applicant/", "//evil.example/", "https://evil.example/", "/\\evil")}),
    "account.logout": Target("owner", "/account/logout", examples=BUTTON_EXAMPLES),
    "account.login_code": Target(
        None, "/account/login/code",
        lambda w: {"code": one("000000", "123 456", w.recovery_code, "abcde-fghjk")},
        session=lambda w: {PENDING_KEY: {"uid": w.two_factor_user, "at": time.time(),
                                         "next": "/applicant/"}}),
    "account.confirm": Target("owner", "/account/confirm?next={next}", {
        "reauth_password": one(PASSWORD, "wrong"), "reauth_code": one("000000", "")},
        {"next": one("/applicant/", "//evil.example/", "https://evil.example/", "/\\evil")},
        recent=False),
    "account.two_factor_setup": Target("owner_enrolling", "/account/two-factor/setup",
                                       {"code": one("000000", "12345", "abcdef")},
                                       success_page=True),
    "account.two_factor_recovery_codes": Target(
        "two_factor_user", "/account/two-factor/recovery-codes", examples=BUTTON_EXAMPLES,
        success_page=True),
    "account.two_factor_disable": Target("two_factor_user", "/account/two-factor/disable",
                                         examples=BUTTON_EXAMPLES),
    "account.user_roles": Target("admin", "/account/users/{stranger}/roles", {
        "roles": one("evaluator", "programme_manager", "admin", "applicant")}),
    # The same, from a login too old: the confirmation form, with the fields kept.
    "account.user_roles#stale": Target("admin", "/account/users/{stranger}/roles", {
        "roles": one("evaluator", "admin"), "reauth_password": one(PASSWORD, "wrong"),
        "reauth_code": one("", "000000")}, recent=False),
    "account.user_two_factor_reset": Target(
        "admin", "/account/users/{two_factor_user}/two-factor/reset", examples=BUTTON_EXAMPLES),
    "tokens.create": Target("owner", "/account/tokens", {"name": TEXT}),
    "tokens.revoke": Target("owner", "/account/tokens/{token_id}/revoke",
                            examples=BUTTON_EXAMPLES),
    # -- notifications and administration
    "notifications.mark_read": Target("owner", "/notifications/{notification_id}/read",
                                      {"read": one("1", "0")}, examples=BUTTON_EXAMPLES),
    "notifications.mark_all_read": Target("owner", "/notifications/read-all",
                                          examples=BUTTON_EXAMPLES),
    "notifications.preferences": Target("owner", "/notifications/preferences", {
        "delivery": one("immediate", "daily_digest", "never"), "reminders": FLAG}),
    "admin.retry": Target("admin", "/admin/deliveries/{outbox_id}/retry",
                          examples=BUTTON_EXAMPLES),
    # -- public pages
    "public.check": Target(None, "/calls/{call_code}/eligibility", {
        "org_type": one("cso", "local_authority", "diaspora", "x"),
        "country_iso2": one("SN", "FR", "ZZ")}),
    # -- applicants
    "applicant.new_organisation": Target("owner", "/applicant/organisations/new", {
        "name": TEXT, "acronym": TEXT, "org_type": one("cso", "local_authority", "x"),
        "country_iso2": one("SN", "FR", "ZZ"), "registration_number": TEXT, "address": TEXT,
        "website": one("https://example.org", "javascript:alert(1)", "example"),
        "contact_email": EMAIL, "contact_phone": TEXT}),
    "applicant.organisation": Target("owner", "/applicant/organisations/{organisation_id}", {
        "email": EMAIL, "role": one("viewer", "editor", "owner", "admin")}),
    "applicant.invitation": Target("stranger", "/applicant/invitations/{invitation_token}",
                                   {"reason": TEXT}),
    "applicant.start": Target("owner", "/applicant/calls/{call_code}/apply", lambda w: {
        "organisation_id": ids(w.organisation_id)}),
    "applicant.section": Target(
        "owner", "/applicant/applications/{draft_id}/sections/{key}", _section_fields,
        choices={"key": one(*applications.SECTIONS, "nope")},
        headers=st.sampled_from([{}, {"X-Autosave": "1"}])),
    # The session ended while typing: the same post, logged out, with the log-in fields.
    "applicant.section#expired": Target(
        None, "/applicant/applications/{draft_id}/sections/{key}",
        lambda w: {"email": one(w.owner_email, "x@example.org"),
                   "password": one(PASSWORD, "wrong"), "title": TEXT, "text": TEXT},
        choices={"key": one("summary", "description")},
        headers=st.sampled_from([{}, {"X-Autosave": "1"}]), examples=BUTTON_EXAMPLES),
    "applicant.attachments_page": Target(
        "owner", "/applicant/applications/{draft_id}/attachments",
        {"kind": one("other", "budget_annex", "nope")}, files=("file",)),
    "applicant.delete_attachment": Target(
        "owner", "/applicant/applications/{draft_id}/attachments/{attachment_id}/delete",
        examples=BUTTON_EXAMPLES),
    "applicant.submit": Target("owner", "/applicant/applications/{draft_id}/submit",
                               {"reason": TEXT}, examples=BUTTON_EXAMPLES),
    "applicant.withdraw": Target("owner", "/applicant/applications/{draft_id}/withdraw",
                                 {"reason": TEXT}),
    # -- evaluators
    "evaluation.declare": Target("evaluator", "/evaluation/assignments/{invited_id}/declaration",
                                 {"conflict": one("no", "yes", "maybe"), "statement": TEXT}),
    "evaluation.scores": Target("scorer", "/evaluation/assignments/{accepted_id}/scores",
                                _scores, refusal_may_change=frozenset({"scores"})),
    # -- programme managers: grids
    "manage.grid_default": Target("manager", GRID + "/default", choices=STAGE,
                                  examples=BUTTON_EXAMPLES),
    "manage.grid_settings": Target("manager", GRID + "/settings", _grid_settings, STAGE),
    "manage.grid_section": Target("manager", GRID + "/sections", {
        "code": TEXT, "title": TEXT, "minimum": AMOUNT}, STAGE),
    "manage.grid_section_delete": Target(
        "manager", GRID + "/sections/{grid_section_id}/delete", choices=STAGE,
        examples=BUTTON_EXAMPLES),
    "manage.grid_criterion": Target("manager", GRID + "/criteria", lambda w: {
        "section_id": ids(w.grid_section_id), "criterion_id": ids(w.criterion_id, ""),
        "code": TEXT, "title": TEXT, "guidance": TEXT, "weight": one(1, 2, 3, "x")}, STAGE),
    "manage.grid_criterion_delete": Target(
        "manager", GRID + "/criteria/{criterion_id}/delete", choices=STAGE,
        examples=BUTTON_EXAMPLES),
    # -- programme managers: the call's documents
    "manage.documents": Target("manager", "/manage/calls/{call_code}/documents", {
        "title": TEXT, "language": one("en", "fr", "de"),
        "kind": one("guidelines", "annex", "budget_template", "x")}, files=("file",)),
    "manage.document_delete": Target(
        "manager", "/manage/calls/{call_code}/documents/{document_id}/delete",
        examples=BUTTON_EXAMPLES),
    # Renders two PDFs per accepted post: few examples.
    "manage.documents_guidelines": Target(
        "manager", "/manage/calls/{call_code}/documents/guidelines", examples=4),
    # -- programme managers: opening check, panel, results, ranking
    "manage.admin_check_form_view": Target(
        "manager", "/manage/applications/{submitted_id}/admin-check", _admin_check),
    "manage.panel_add": Target("evaluation_manager", PANEL + "/members", lambda w: {
        "evaluator_id": ids(w.panel_member, w.manager)}, STAGE),
    "manage.panel_remove": Target("evaluation_manager", PANEL + "/members/{panel_member}/delete",
                                  choices=STAGE, examples=BUTTON_EXAMPLES),
    "manage.auto_assign": Target("evaluation_manager", PANEL + "/auto", {"due_date": DATE},
                                 STAGE),
    "manage.assign": Target("evaluation_manager", PANEL + "/assign", lambda w: {
        "application_id": ids(w.in_evaluation_id, w.other_application_id, w.draft_id),
        "evaluator_id": ids(w.panel_member, w.manager), "comment": TEXT}, STAGE),
    "manage.remove_assignment": Target(
        "evaluation_manager", "/manage/assignments/{invited_id}/remove",
        {"comment": TEXT, "replace": FLAG}),
    "manage.reopen_assignment": Target(
        "evaluation_manager", "/manage/assignments/{accepted_id}/reopen", {"comment": TEXT}),
    "manage.compute_results": Target(
        "evaluation_manager", "/manage/calls/{evaluation_code}/results/{stage}", choices=STAGE,
        examples=BUTTON_EXAMPLES),
    "manage.consensus": Target(
        "evaluation_manager", "/manage/applications/{in_evaluation_id}/consensus/{stage}",
        _consensus, STAGE),
    "manage.confirm": Target(
        "evaluation_manager", "/manage/calls/{evaluation_code}/ranking/{stage}", lambda w: {
            "fingerprint": st.one_of(one(w.ranking_fingerprint), TEXT)}, STAGE),
    # -- programme managers: grants
    "grants_admin.award": Target("manager", "/manage/grants/award/{selected_id}", {
        "amount": AMOUNT, "start_date": DATE, "documents_verified": FLAG}),
    "grants_admin.send": Target("manager", "/manage/grants/{prepared_grant_id}/send",
                                examples=BUTTON_EXAMPLES),
    "grants_admin.countersign": Target("manager", "/manage/grants/{awaiting_grant_id}/countersign",
                                       examples=BUTTON_EXAMPLES),
    "grants_admin.fire": Target(
        "manager", "/manage/grants/{grant_id}/{event}", {"comment": TEXT},
        {"event": one("suspend", "resume", "end_implementation", "close", "terminate", "lapse")}),
    "grants_admin.payment_event": Target(
        "manager", "/manage/grants/payments/{payment_id}/{event}", {"comment": TEXT},
        {"event": one("approve", "pay", "reject")}),
    "grants_admin.report_event": Target(
        "manager", "/manage/grants/reports/{report_id}/{event}", {"comment": TEXT},
        {"event": one("approve", "request_changes")}),
    "grants_admin.decide": Target("manager", "/manage/grants/amendments/{amendment_id}", {
        "decision": one("approve", "refuse", "maybe"), "comment": TEXT}),
    # -- grantees
    "grantee.sign": Target("awaiting_grantee", "/grants/{awaiting_grant_id}/sign", lambda w: {
        "name": TEXT, "document_sha256": one(w.contract_hash, "0" * 64, "short"),
        "confirm": FLAG}),
    "grantee.sign_upload": Target("awaiting_grantee", "/grants/{awaiting_grant_id}/sign-upload",
                                  {"name": TEXT}, files=("file",)),
    "grantee.request_payment": Target("grantee", "/grants/payments/{payment_id}/request",
                                      examples=BUTTON_EXAMPLES),
    "grantee.report": Target("grantee", "/grants/reports/{report_id}", _report),
    "grantee.submit_report": Target("grantee", "/grants/reports/{report_id}/submit",
                                    examples=BUTTON_EXAMPLES),
    "grantee.notify": Target("grantee", "/grants/{grant_id}/notify", {
        "change": one("budget_transfer", "bank_account", "address", "x"), "description": TEXT,
        "from_heading": one(*BUDGET_HEADINGS, "x"), "to_heading": one(*BUDGET_HEADINGS, "x"),
        "amount": AMOUNT, "bank_account": one("FR7630006000011234567890189", "x"),
        "address": TEXT}),
    "grantee.addendum": Target("grantee", "/grants/{grant_id}/addendum", {
        "description": TEXT, "amount": AMOUNT, "end_date": DATE, "other": TEXT}),
    # -- dashboard
    "dashboard.export": Target("manager", "/dashboard/lists/{name}/export", _export,
                               {"name": one(*LISTS, "nope")}),
}


# ---------------------------------------------------------------- posting and checking


@st.composite
def form_data(draw: Any, fields: Fields, files: tuple[str, ...]) -> MultiDict[str, Any]:
    """Each field plausible or hostile, or missing, or twice; sometimes a junk field more."""
    data: MultiDict[str, Any] = MultiDict()
    for name, plausible in fields.items():
        how = draw(st.sampled_from(("value", "value", "value", "missing", "twice")))
        if how == "missing":
            continue
        for _ in range(2 if how == "twice" else 1):
            data.add(name, draw(st.one_of(plausible, plausible, NASTY)))
    for name in files:
        content = draw(st.one_of(
            st.binary(max_size=300),
            st.sampled_from([b"", b"%PDF-1.4\n%%EOF\n", b"PK\x03\x04garbage", b"MZ\x90\x00"]),
        ))
        filename = draw(st.one_of(one("scan.pdf", "a.docx", "../x.pdf", "x.exe", ""), NASTY))
        data.add(name, (io.BytesIO(content), filename))
    text_fields = [name for name, value in data.items() if isinstance(value, str)]
    if text_fields and draw(st.integers(0, 7)) == 0:
        # A NUL inside an otherwise plausible form (PostgreSQL text cannot hold one).
        name = draw(st.sampled_from(text_fields))
        data.setlist(name, [value + "\x00" for value in data.getlist(name)])
    if draw(st.booleans()):
        data.add(draw(st.text(min_size=1, max_size=12)), draw(NASTY))
    return data


def _fingerprint_sql() -> tuple[str, list[str]]:
    """One statement, one scan per table; compiled once per database (it has ~400 terms)."""
    subqueries, names = [], []
    for table in db.metadata.sorted_tables:
        terms = [func.count().label("n")]
        names.append(table.name)
        for column in table.columns:
            if isinstance(column.type, Boolean):
                value = func.sum(cast(column, Integer))
            elif isinstance(column.type, (Integer, Numeric)):
                value = func.sum(column)
            elif isinstance(column.type, JSON):
                continue  # JSON documents change with the text columns that mirror them
            else:
                value = func.sum(func.length(cast(column, Text)))
            terms.append(func.coalesce(value, literal_column("0")).label(f"c{len(terms)}"))
            names.append(table.name)
        subqueries.append(select(*terms).select_from(table).subquery(f"t{len(subqueries)}"))
    statement = select(*[c for sub in subqueries for c in sub.c])
    return str(statement.compile(dialect=db.engine.dialect)), names


_FINGERPRINT: dict[str, tuple[str, list[str]]] = {}


def _compiled() -> tuple[str, list[str]]:
    dialect = db.engine.dialect.name
    if dialect not in _FINGERPRINT:
        _FINGERPRINT[dialect] = _fingerprint_sql()
    return _FINGERPRINT[dialect]


def fingerprint() -> tuple[Any, ...]:
    """Row counts, versions, sums of numbers and lengths of texts of every table."""
    sql, _names = _compiled()
    return tuple(db.session.connection().exec_driver_sql(sql).one())


def changed_tables(before: tuple[Any, ...], after: tuple[Any, ...]) -> set[str]:
    _sql, names = _compiled()
    return {name for name, a, b in zip(names, before, after, strict=True) if a != b}


def client_identifier(client: Any) -> str:
    """What Flask-Login's strong session protection expects of the test client's session."""
    with client.application.test_request_context(environ_base=client.environ_base):
        return str(_create_identifier())


def act_as(client: Any, user_id: int | None, recent: bool,
           extra: dict[str, Any] | None = None) -> None:
    """A fresh session of `user_id` (password and code given, `recent` or long ago)."""
    # Requests share the test's app context: forget the user Flask-Login cached in `g`.
    g.pop("_login_user", None)
    with client.session_transaction() as session:
        session.clear()
        if user_id is not None:
            session["_user_id"] = str(user_id)
            session["_fresh"] = True
            session["_id"] = client_identifier(client)
            session[AUTH_AT_KEY] = time.time() if recent else time.time() - 86_400
            session[AUTH_2FA_KEY] = True
        session.update(extra or {})


GATES = ("/account/login", "/account/confirm", "/account/two-factor/setup")


def gated(response: Any) -> bool:
    """Stopped before the view: sent to log in, to confirm it is you, or to set up 2FA."""
    if response.status_code in (302, 303):
        return urlsplit(response.headers["Location"]).path in GATES
    return b'name="reauth_password"' in response.data


def flashed(client: Any) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return list(session.pop("_flashes", []))


def same_site(location: str) -> bool:
    parts = urlsplit(location)
    return parts.netloc in ("", "localhost") and not location.startswith(("//", "/\\"))


def fuzz(app: Any, client: Any, target: Target) -> None:
    world = World()
    fixed = {name: getattr(world, name) for name in target.path_names()}
    user_id = getattr(world, target.user) if target.user else None
    fields = target.field_strategies(world)
    extra = target.session(world) if target.session else None
    reached: list[bool] = []

    @settings(max_examples=target.examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def post(data: Any) -> None:
        choices = {name: data.draw(s, label=name) for name, s in target.choices.items()}
        form = data.draw(form_data(fields, target.files), label="form")
        headers = data.draw(target.headers, label="headers")
        url = target.path.format(**fixed, **choices)
        act_as(client, user_id, target.recent, extra)
        db.session.rollback()  # read what is committed, as the next request would
        before = fingerprint()
        response = client.post(url, data=form, headers=headers)
        db.session.rollback()
        after = fingerprint()
        status = response.status_code
        shown = f"{status} from POST {url} with {list(form.items(multi=True))!r:.2000}"
        assert status < 500, shown
        assert status in ALLOWED, shown
        messages = flashed(client)
        reached.append(not gated(response))
        if status in (302, 303):
            assert same_site(response.headers["Location"]), shown
            refused = any(category == "error" for category, _m in messages)
        else:
            # A page shown again or a refusal; a 201 is a success, and so is an autosave's
            # JSON answer (an export's file only reads).
            refused = status >= 400 or (
                status == 200 and not response.is_json and not target.success_page
            )
            if status >= 400:
                assert response.data, shown  # a page saying why, never an empty answer
        if refused:
            changed = changed_tables(before, after) - target.refusal_may_change
            assert not changed, f"refused, yet {sorted(changed)} changed: {shown}"

    post()
    if target.reaches_view:
        assert any(reached), "no post got past the login and confirmation gates"


@pytest.mark.parametrize("key", sorted(TARGETS))
def test_generated_form_posts_find_no_server_error_and_refusals_change_nothing(
    app, client, frozen_clock, key
):
    fuzz(app, client, TARGETS[key])


def test_every_form_endpoint_is_fuzzed(app):
    """A POST route without an entry here fails: new forms are fuzzed from the start."""
    posting = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.endpoint.startswith("api.")
    }
    fuzzed = {key.split("#")[0] for key in TARGETS}
    assert posting - fuzzed == set(), "POST endpoints without a fuzz entry"
    assert fuzzed - posting == set(), "fuzz entries for endpoints that no longer exist"


def test_the_fingerprint_sees_a_change(app):
    """The check above means something: a changed text, number or row moves the fingerprint."""
    world = World()
    before = fingerprint()
    attachment = db.session.get(Attachment, world.attachment_id)
    after_creation = fingerprint()
    attachment.filename = "renamed-" + attachment.filename
    db.session.commit()
    renamed = fingerprint()
    assert before != after_creation != renamed
    assert changed_tables(after_creation, renamed) == {"attachments"}


def test_a_nul_character_in_a_form_is_refused_with_a_message(app, client):
    """PostgreSQL text cannot hold NUL: every form refuses it the same way on every database."""
    world = World()
    act_as(client, world.owner, recent=True)
    before = fingerprint()
    response = client.post(
        f"/applicant/applications/{world.draft_id}/sections/summary",
        data={"title": "Centres\x00", "version": "1"},
    )
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    db.session.rollback()
    assert fingerprint() == before
    act_as(client, world.owner, recent=True)
    assert client.get("/applicant/?q=a%00b").status_code == 400
