"""Accessibility: axe-core (WCAG 2.1 A and AA) on the main pages of every user group, in English
and French.

Each page is opened in Chromium, axe-core is injected and run; any violation of
impact serious or critical fails the test, reported with its rule, impact,
target selectors and help text. Every page is also checked for its `lang`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from grants.demo import DEMO_PASSWORD, create_demo_data
from grants.extensions import db
from grants.models import Application, Call, Grant, User
from grants.services import evaluation, panels, payments, registration
from grants.services.applications import SECTIONS
from grants.services.transitions import transition
from tests.factories import PASSWORD, sign_as_grantee
from tests.test_evaluation_services import build, live

pytestmark = pytest.mark.e2e

LANGUAGES = ("en", "fr")
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
# Structure rules axe files under best practice, at moderate impact: checked here too, and
# any violation of them fails (one main landmark, all content in landmarks, one h1, no
# skipped heading level, a skip link whose target exists).
STRUCTURE = [
    "landmark-one-main", "region", "page-has-heading-one", "heading-order", "skip-link",
    "landmark-unique", "landmark-no-duplicate-main",
]

# Checks axe does not make: the skip link comes first and leads to <main>; every error
# message in a form is announced with its control (aria-describedby); data tables have
# header cells.
OWN_CHECKS = r"""() => {
    const problems = [];
    const first = document.querySelector(
        "a[href], button, input:not([type=hidden]), select, textarea");
    if (!first || first.getAttribute("href") !== "#main" || !document.querySelector("main#main"))
        problems.push("no skip link to <main id=main> first in the page");
    const described = new Set();
    document.querySelectorAll("[aria-describedby]").forEach(
        e => e.getAttribute("aria-describedby").split(/\s+/).forEach(id => described.add(id)));
    document.querySelectorAll("form p.error").forEach(e => {
        const box = e.closest(".errors");
        if (!box || !box.id || !described.has(box.id))
            problems.push("error message not tied to its control: " + e.textContent.trim());
    });
    document.querySelectorAll("main table").forEach((t, i) => {
        if (!t.querySelector("th")) problems.push("table " + (i + 1) + " has no header cells");
    });
    return problems;
}"""


@dataclass
class Auditor:
    """Opens pages, runs axe-core on each and keeps what it finds, to report all at once."""

    page: object
    base: str
    axe_source: str
    findings: list[str] = field(default_factory=list)
    audited: int = 0

    def switch_language(self, language: str) -> None:
        """Choose the language with the form every page carries, as a person would."""
        self.page.goto(self.base + "/")
        self.page.select_option("#language-choice", language)
        self.page.click("form.language button[type=submit]")
        self.page.wait_for_load_state("load")

    def visit(self, path: str, language: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        lang = self.page.get_attribute("html", "lang")
        if lang != language:
            self.findings.append(f"{path} [{language}]: <html lang={lang!r}>")
        self.audit(f"{path} [{language}]")

    def audit(self, label: str) -> None:
        """Run axe-core on the page as it is now."""
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(content=self.axe_source)
        violations = self.page.evaluate(
            """async ([tags, structure]) => {
                const result = await axe.run(document, {
                    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
                    rules: Object.fromEntries(structure.map(id => [id, {enabled: true}])),
                });
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    targets: v.nodes.map(n => n.target.join(" ")),
                }));
            }""",
            [WCAG_21_AA, STRUCTURE],
        )
        self.audited += 1
        for v in violations:
            if v["impact"] in BLOCKING or v["id"] in STRUCTURE:
                targets = ", ".join(v["targets"][:5])
                more = f" (+{len(v['targets']) - 5} more)" if len(v["targets"]) > 5 else ""
                self.findings.append(
                    f"{label}: {v['id']} ({v['impact']}) {v['help']} — {targets}{more}"
                )
        self.findings.extend(f"{label}: {p}" for p in self.page.evaluate(OWN_CHECKS))

    def visit_all(self, paths: list[str]) -> None:
        for language in LANGUAGES:
            self.switch_language(language)
            for path in paths:
                self.visit(path, language)

    def log_in(self, email: str, password: str) -> None:
        self.page.goto(self.base + "/account/login")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        self.page.click("form:has(#password) [type=submit]")
        self.page.wait_for_load_state("load")
        assert "/account/login" not in self.page.url, self.page.inner_text("main")

    def log_out(self) -> None:
        self.page.click("form[action='/account/logout'] button")
        self.page.wait_for_load_state("load")

    def assert_clean(self) -> None:
        assert not self.findings, (
            f"{len(self.findings)} accessibility problem(s) on {self.audited} page views:\n"
            + "\n".join(self.findings)
        )


@pytest.fixture
def auditor(live_server, audit_page, axe_source) -> Auditor:  # type: ignore[no-untyped-def]
    return Auditor(audit_page, live_server, axe_source)


def test_the_audit_reports_what_it_must(auditor):  # type: ignore[no-untyped-def]
    """A page built to fail: every kind of problem the audit looks for is reported."""
    auditor.page.set_content(
        "<html><head></head><body><a href='/'>Home</a><main id='main'><h1>Form</h1>"
        "<form><input id='q'><div class='errors' id='q-error'><p class='error'>Required.</p></div>"
        "</form>"
        "<img src='data:,'><table><tr><td>1</td></tr></table>"
        "<p style='color:#bbb;background:#fff'>Faint text</p></main></body></html>"
    )
    auditor.audit("broken page")
    found = "\n".join(auditor.findings)
    for expected in ("html-has-lang", "document-title", "label", "image-alt", "color-contrast",
                     "region", "no skip link", "error message not tied", "no header cells"):
        assert expected in found, (expected, found)
    with pytest.raises(AssertionError, match="accessibility problem"):
        auditor.assert_clean()


def _signed_demo_grant_with_a_payment() -> Grant:
    """The demo's grant awaiting signature, signed, with its pre-financing paid."""
    manager = db.session.scalar(select(User).where(User.email == "manager@mmd.example.org"))
    grant = db.session.scalar(select(Grant).order_by(Grant.id).limit(1))
    owner = grant.application.created_by
    sign_as_grantee(grant, owner)
    transition(grant, "sign", manager)
    first = grant.payments[0]
    payments.request(first, owner)
    payments.approve(first, manager)
    payments.pay(first, manager)
    db.session.commit()
    return grant


def _visitor_pages(auditor: Auditor, reset_token: str) -> None:
    auditor.visit_all([
        "/",
        "/calls/C03",
        "/calls/C02",
        "/calls/C03/eligibility",
        "/account/login",
        "/account/register",
        "/account/forgot",
        f"/account/reset/{reset_token}",
    ])
    # The eligibility check's answer, and the login form showing its error.
    for language in LANGUAGES:
        auditor.switch_language(language)
        auditor.page.goto(auditor.base + "/calls/C03/eligibility")
        auditor.page.click("main form [type=submit]")
        auditor.page.wait_for_load_state("load")
        auditor.audit(f"eligibility answer [{language}]")
        auditor.page.goto(auditor.base + "/account/login")
        auditor.page.fill("#email", "nobody@example.org")
        auditor.page.fill("#password", "wrong password")
        auditor.page.click("form:has(#password) [type=submit]")
        auditor.page.wait_for_load_state("load")
        auditor.audit(f"login error [{language}]")


def _applicant_pages(auditor: Auditor, owner: str, draft_id: int, org_id: int) -> None:
    base = f"/applicant/applications/{draft_id}"
    auditor.log_in(owner, DEMO_PASSWORD)
    auditor.visit_all([
        "/home/",
        "/applicant/",
        f"/applicant/organisations/{org_id}",
        "/applicant/organisations/new",
        base,
        *(f"{base}/sections/{key}" for key in SECTIONS),
        f"{base}/attachments",
        f"{base}/preview",
        "/notifications/",
        "/notifications/preferences",
        "/account/tokens",
    ])
    # A section saved with a mistake shows its errors next to the fields.
    for language in LANGUAGES:
        auditor.switch_language(language)
        auditor.page.goto(auditor.base + f"{base}/sections/summary")
        auditor.page.fill("#requested_amount", "not a number")
        auditor.page.click("form.section-form button.secondary")
        auditor.page.wait_for_load_state("load")
        assert auditor.page.locator("#requested_amount-error").count() == 1
        auditor.audit(f"summary section with errors [{language}]")
        auditor.page.goto(auditor.base + f"{base}/attachments")
        auditor.page.click("main form [type=submit][name=submit]")  # no file chosen
        auditor.page.wait_for_load_state("load")
        assert auditor.page.locator("#file-error").count() == 1
        auditor.audit(f"attachment refused [{language}]")
    auditor.log_out()


def test_pages_of_visitors_applicants_grantees_and_managers(  # type: ignore[no-untyped-def]
    app, auditor
):
    create_demo_data()
    grant = _signed_demo_grant_with_a_payment()
    assert grant.state == "active" and grant.payments[0].state == "paid"
    grant_id, grant_application_id = grant.id, grant.application_id
    grantee = grant.application.created_by.email
    manager = db.session.scalar(select(User).where(User.email == "manager@mmd.example.org"))
    reset_token = registration.reset_token(manager)
    c03 = db.session.scalar(select(Call).where(Call.code == "C03"))
    apps = db.session.scalars(
        select(Application).where(Application.call_id == c03.id).order_by(Application.id)
    ).all()
    draft = next(a for a in apps if a.state == "draft")
    submitted = next(a for a in apps if a.state == "submitted")
    draft_owner, draft_id, org_id = draft.created_by.email, draft.id, draft.organisation_id
    submitted_owner, submitted_id = submitted.created_by.email, submitted.id
    db.session.remove()  # the server thread opens its own sessions

    _visitor_pages(auditor, reset_token)
    _applicant_pages(auditor, draft_owner, draft_id, org_id)

    auditor.log_in(submitted_owner, DEMO_PASSWORD)
    auditor.visit_all([f"/applicant/applications/{submitted_id}/receipt"])
    auditor.log_out()

    auditor.log_in(grantee, DEMO_PASSWORD)
    auditor.visit_all(["/grants/", f"/grants/{grant_id}"])
    auditor.log_out()

    auditor.log_in("manager@mmd.example.org", DEMO_PASSWORD)
    auditor.visit_all([
        "/home/",  # the calls, applications and grants
        "/manage/calls/C02/evaluation/concept_note",
        "/manage/calls/C02/admin-check",
        "/manage/calls/C02/grid/full_application",
        "/manage/calls/C02/panel/concept_note",
        "/manage/calls/C02/results/full_application",
        "/manage/calls/C02/ranking/full_application",
        "/dashboard/",
        "/dashboard/lists/applications",
        "/dashboard/lists/applications?state=reserve&q=migration",
        f"/dashboard/applications/{grant_application_id}",
        f"/dashboard/grants/{grant_id}",
        "/dashboard/lists/grants",
        "/dashboard/lists/payments",
        "/dashboard/audit",
        "/manage/grants/",
        f"/manage/grants/{grant_id}",
        "/notifications/",
        "/account/tokens",
    ])
    # The dashboard's charts are images with a name and a description (tables beside them).
    auditor.page.goto(auditor.base + "/dashboard/")
    charts = auditor.page.eval_on_selector_all(
        "main svg",
        """svgs => svgs.map(svg => ({
            role: svg.getAttribute("role"),
            named: (svg.getAttribute("aria-labelledby") || "").split(" ").every(
                id => id && (document.getElementById(id) || {}).textContent),
        }))""",
    )
    assert charts and all(c["role"] == "img" and c["named"] for c in charts), charts
    auditor.assert_clean()


def test_evaluator_pages(app, frozen_clock, auditor):  # type: ignore[no-untyped-def]
    s = build(count=2, evaluators=2)
    panels.auto_assign(s.call, "concept_note", s.manager)
    first = live(s.applications[0])[0]
    second = next(a for a in live(s.applications[1]) if a.evaluator_id == first.evaluator_id)
    evaluation.declare(second, second.evaluator, has_conflict=False)
    db.session.commit()
    email, undeclared, declared = first.evaluator.email, first.id, second.id
    db.session.remove()

    auditor.log_in(email, PASSWORD)
    auditor.visit_all([
        "/evaluation/",
        f"/evaluation/assignments/{undeclared}",  # the conflict declaration
        f"/evaluation/assignments/{declared}",  # the scoring form
        "/notifications/",
    ])
    auditor.assert_clean()
