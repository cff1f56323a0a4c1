"""Demo data: a realistic MMD call, organisations, users for every role, and
applications spread across the workflow, every state reached through the real
transition pipeline (the clock is moved, never the state column).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import cycle

from flask import current_app
from sqlalchemy import select

from . import clock
from .extensions import db
from .models import (
    AdminCheck,
    Application,
    ApplicationJvapDomain,
    ApplicationPartner,
    ApplicationSection,
    Attachment,
    BudgetLine,
    Call,
    Country,
    Dialogue,
    Grant,
    JvapDomain,
    Membership,
    Organisation,
    User,
)
from .rules import selection
from .rules.eligibility import CallRules
from .services import call_documents, evaluation, grids, two_factor
from .services.accounts import create_user
from .services.actors import SYSTEM
from .services.eligibility import rules_json
from .services.guards import ADMIN_CHECK_ITEMS
from .services.transitions import transition

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105  (printed for the demo on purpose)
# The staff's two-factor key (base32 TOTP secret), printed beside their logins on purpose.
DEMO_TOTP_SECRET = "DEMOSTAFFTWOFACTORKEYFORMMDGRANT"  # noqa: S105

STAFF = [
    ("admin@mmd.example.org", "Amina Diallo", ("admin",)),
    ("manager@mmd.example.org", "Lukas Becker", ("programme_manager",)),
    ("evaluator1@mmd.example.org", "Fatou Ndiaye", ("evaluator",)),
    ("evaluator2@mmd.example.org", "Pierre Martin", ("evaluator",)),
    ("evaluator3@mmd.example.org", "Grace Mensah", ("evaluator",)),
    ("evaluator4@mmd.example.org", "Sofia Rossi", ("evaluator",)),
]

# name, acronym, type, country, owner email, owner name, language
ORGANISATIONS = [
    (
        "Association Sénégalaise pour la Migration et le Développement",
        "ASMD",
        "cso",
        "SN",
        "contact@asmd.example.sn",
        "Moussa Sow",
        "fr",
    ),
    (
        "Commune de Kayes",
        None,
        "local_authority",
        "ML",
        "cooperation@kayes.example.ml",
        "Awa Traoré",
        "fr",
    ),
    (
        "Nigerian Diaspora Network Europe",
        "NDNE",
        "diaspora",
        "DE",
        "info@ndne.example.de",
        "Chinedu Okafor",
        "en",
    ),
    (
        "Ghana Migrants Rights Forum",
        "GMRF",
        "cso",
        "GH",
        "office@gmrf.example.gh",
        "Kwame Asante",
        "en",
    ),
    (
        "Association Marocaine d'Aide aux Migrants",
        "AMAM",
        "cso",
        "MA",
        "bureau@amam.example.ma",
        "Yasmine Benali",
        "fr",
    ),
    (
        "Horn of Africa Mobility Initiative",
        "HAMI",
        "cso",
        "ET",
        "hello@hami.example.et",
        "Selam Tesfaye",
        "en",
    ),
    (
        "Kenya Cities Migration Partnership",
        "KCMP",
        "local_authority",
        "KE",
        "partnerships@kcmp.example.ke",
        "Wanjiru Kamau",
        "en",
    ),
    (
        "Fondazione Migrazioni e Sviluppo",
        "FMS",
        "cso",
        "IT",
        "segreteria@fms.example.it",
        "Giulia Bianchi",
        "en",
    ),
    (
        "Réseau Ivoirien pour la Mobilité des Jeunes",
        "RIMJ",
        "cso",
        "CI",
        "contact@rimj.example.ci",
        "Koffi Kouassi",
        "fr",
    ),
    (
        "Tunisian Association for Return and Reintegration",
        "TARR",
        "cso",
        "TN",
        "info@tarr.example.tn",
        "Sami Trabelsi",
        "fr",
    ),
    (
        "Gambia Youth and Migration Council",
        "GYMC",
        "cso",
        "GM",
        "council@gymc.example.gm",
        "Lamin Jallow",
        "en",
    ),
    (
        "Diaspora Burkinabè de Belgique",
        "DBB",
        "diaspora",
        "BE",
        "contact@dbb.example.be",
        "Issa Ouédraogo",
        "fr",
    ),
    (
        "Cameroon Network for Safe Migration",
        "CNSM",
        "cso",
        "CM",
        "info@cnsm.example.cm",
        "Emmanuel Fon",
        "en",
    ),
    (
        "Uganda Refugee Livelihoods Alliance",
        "URLA",
        "cso",
        "UG",
        "alliance@urla.example.ug",
        "Sarah Namusoke",
        "en",
    ),
]

TITLES = [
    "Safe migration information centres along the Dakar-Agadez route",
    "Diaspora investment for local development in the Kayes region",
    "Skills partnerships for young Nigerian graduates",
    "Legal aid for migrant workers in the Greater Accra region",
    "Protection of migrants in transit in Oujda and Nador",
    "Countering trafficking along the Horn of Africa route",
    "Urban inclusion of internal migrants in Nairobi and Mombasa",
    "Circular mobility of agricultural workers between Italy and Senegal",
    "Youth mobility and entrepreneurship in Abidjan",
    "Sustainable reintegration of returnees in Sfax and Médenine",
    "Back-way awareness through community radio in the Gambia",
    "Diaspora mentoring for women entrepreneurs in Ouagadougou",
    "Data on migrant smuggling in the Far North region",
    "Livelihoods for refugees and host communities in West Nile",
]


def _at(moment: datetime) -> None:
    clock.set_clock(lambda: moment)


def _users() -> dict[str, User]:
    users = {}
    for email, name, roles in STAFF:
        users[email] = create_user(
            email, name, DEMO_PASSWORD, roles=roles, verified=True, commit=False
        )
        if two_factor.required_for(users[email]):
            # Staff must use two-factor login: enrolled with one printed key, so one entry
            # in an authenticator app serves every demo staff login.
            users[email].totp_secret = two_factor.seal_secret(DEMO_TOTP_SECRET)
            users[email].totp_enrolled_at = clock.now()
    return users


def _staff_label(roles: tuple[str, ...]) -> str:
    label = ", ".join(roles)
    if current_app.config.get("TWO_FACTOR_REQUIRED", True):
        label += f"; two-factor key {DEMO_TOTP_SECRET}"
    return label


def _organisations() -> list[tuple[Organisation, User]]:
    result = []
    for i, (name, acronym, org_type, country, email, owner_name, lang) in enumerate(ORGANISATIONS):
        org = Organisation(
            name=name,
            acronym=acronym,
            org_type=org_type,
            country_iso2=country,
            registration_number=f"REG-{country}-{2010 + i}-{1000 + i * 37}",
            address=f"{10 + i} Avenue de l'Indépendance",
            website=None,
            contact_email=email,
        )
        owner = create_user(
            email, owner_name, DEMO_PASSWORD, verified=True, language=lang, commit=False
        )
        db.session.add(org)
        db.session.add(Membership(user=owner, organisation=org, role="owner"))
        result.append((org, owner))
    return result


def _call(
    code: str,
    title: str,
    workflow: str,
    manager: User,
    opens: datetime,
    deadline: datetime,
    full_deadline: datetime | None,
    budget: str,
) -> Call:
    rules = CallRules.mmd_second_call()
    call = Call(
        code=code,
        year=opens.year,
        title=title,
        workflow=workflow,
        state="draft",
        summary=(
            "Competitive grants for civil-society organisations, local authorities and "
            "diaspora organisations to implement actions supporting the Rabat Process, the "
            "Khartoum Process and the Continent-to-Continent Migration and Mobility Dialogue."
        ),
        objectives=(
            "Strengthen the contribution of non-state and local actors to the implementation "
            "of the Joint Valletta Action Plan; improve the evidence base on migration and "
            "mobility; support the dialogues' priorities at local level."
        ),
        budget=Decimal(budget),
        grant_min=rules.grant_min,
        grant_max=rules.grant_max,
        max_funding_rate=rules.max_funding_rate,
        duration_min_months=rules.duration_min_months,
        duration_max_months=rules.duration_max_months,
        eligibility_rules=rules_json(rules),
        time_zone="Europe/Brussels",
        opens_at=opens,
        deadline_at=deadline,
        full_deadline_at=full_deadline,
        prefinancing_shares=["0.80"],
    )
    call.jvap_domains = list(db.session.scalars(select(JvapDomain)))
    call.dialogues = list(db.session.scalars(select(Dialogue)))
    if workflow == "application_two_stage":
        grids.build_grid(call, "concept_note")
    grids.build_grid(call, "full_application")
    db.session.add(call)
    db.session.commit()
    transition(call, "publish", manager)
    # Its guidelines, rendered from the call itself in English and French, as published.
    call_documents.publish_guidelines(manager, call)
    return call


def _org_index(org: Organisation) -> int:
    return [entry[0] for entry in ORGANISATIONS].index(org.name)


def _draft(
    call: Call, org: Organisation, owner: User, index: int, partner: Organisation | None = None
) -> Application:
    countries = {org.country_iso2} if db.session.get(Country, org.country_iso2).au_member else set()
    african = [
        iso
        for iso in ("SN", "ML", "GH", "MA", "ET", "KE", "CI", "TN", "GM", "BF")
        if iso not in countries
    ]
    while len(countries) < 2:
        countries.add(african[(index + len(countries)) % len(african)])
    requested = Decimal(100000 + (index * 3700) % 50000)
    app = Application(
        call=call,
        organisation=org,
        created_by=owner,
        title=TITLES[_org_index(org)],
        language=owner.language,
        requested_amount=requested,
        total_cost=requested,
        duration_months=6,
        state="draft",
    )
    app.countries = [db.session.get(Country, iso) for iso in sorted(countries)]
    app.dialogues = [
        db.session.get(Dialogue, "rabat" if index % 3 else "khartoum"),
        db.session.get(Dialogue, "c2cmmd"),
    ]
    app.jvap_links = [
        ApplicationJvapDomain(domain_number=1 + index % 5, is_primary=True),
        ApplicationJvapDomain(domain_number=1 + (index + 2) % 5),
    ]
    app.sections = [
        ApplicationSection(
            key="summary",
            data={
                "text": f"{app.title}: a six-month action "
                "led by local actors with measurable results."
            },
        ),
        ApplicationSection(
            key="description",
            data={
                "text": "Context, needs of the target groups, activities and expected results.",
                "target_groups": "Migrants, returnees, local authorities and communities.",
            },
        ),
        ApplicationSection(
            key="logframe",
            data={
                "objectives": [
                    {
                        "objective": "Improve access to reliable information on safe migration",
                        "results": [
                            {
                                "result": "Information centres operational",
                                "indicators": [
                                    {
                                        "indicator": "People counselled",
                                        "baseline": "0",
                                        "target": "2500",
                                    }
                                ],
                            }
                        ],
                    }
                ]
            },
        ),
        ApplicationSection(
            key="workplan",
            data={
                "activities": [
                    {"activity": "Set-up and staffing", "months": [1, 2]},
                    {"activity": "Counselling and outreach", "months": [2, 3, 4, 5, 6]},
                ]
            },
        ),
    ]
    share = (requested * Decimal("0.55")).quantize(Decimal("0.01"))
    app.budget_lines = [
        BudgetLine(
            heading="human_resources",
            description="Project staff",
            unit="month",
            quantity=Decimal(1),
            unit_cost=share,
            position=0,
        ),
        BudgetLine(
            heading="other_services",
            description="Outreach and events",
            unit="lump sum",
            quantity=Decimal(1),
            unit_cost=requested - share,
            position=1,
        ),
    ]
    for kind in ("registration_certificate", "budget_annex"):
        app.attachments.append(
            Attachment(
                kind=kind,
                filename=f"{kind}.pdf",
                stored_name=f"demo-{call.code}-{index}-{kind}",
                content_type="application/pdf",
                size_bytes=1024,
                sha256="0" * 64,
                uploaded_by_id=owner.id,
            )
        )
    if partner is not None:
        app.partners = [ApplicationPartner(organisation=partner, role="co_applicant")]
    db.session.add(app)
    db.session.commit()
    return app


def _admin_check(app: Application, manager: User, failing: str | None = None) -> None:
    for item in ADMIN_CHECK_ITEMS:
        passed = item != failing
        db.session.add(
            AdminCheck(
                application_id=app.id,
                stage=app.stage,
                item=item,
                passed=passed,
                reason=None if passed else "The declaration by the lead applicant is not signed.",
                checked_by_id=manager.id,
            )
        )
    db.session.commit()


def _evaluate(
    apps: list[Application],
    evaluators: list[User],
    stage: str,
    manager: User,
    score_of: Callable[[int, int], int],
) -> None:
    pool = cycle(evaluators)
    for n, app in enumerate(apps):
        chosen: list[User] = []
        while len(chosen) < 2:
            candidate = next(pool)
            if candidate not in chosen:
                chosen.append(candidate)
        for k, evaluator in enumerate(chosen):
            assignment = evaluation.assign(app, evaluator, manager, stage)
            db.session.commit()
            transition(assignment, "accept", evaluator, comment="No conflict of interest.")
            grid = app.call.grid_for(stage)
            for section in grid.sections:
                if section.carried_over:
                    continue
                for criterion in section.criteria:
                    evaluation.save_score(
                        assignment,
                        criterion.id,
                        score_of(n, k),
                        f"Assessment of {criterion.code}: clear and well argued.",
                        evaluator,
                    )
            db.session.commit()
            transition(assignment, "submit", evaluator)
        evaluation.compute_result(app, stage, manager)
    db.session.commit()


def _candidates(apps: list[Application], stage: str) -> list[selection.Candidate]:
    from .models import EvaluationResult

    results = {
        r.application_id: r
        for r in db.session.scalars(select(EvaluationResult).where(EvaluationResult.stage == stage))
    }
    return [
        selection.Candidate(
            application_id=a.id,
            requested=a.requested_amount,
            total=results[a.id].total,
            section_scores={k: Decimal(v) for k, v in results[a.id].section_scores.items()},
        )
        for a in apps
    ]


def _thresholds(call: Call, stage: str) -> selection.Thresholds:
    grid = call.grid_for(stage)
    return selection.Thresholds(
        grid.total_threshold, {s.code: s.minimum for s in grid.sections if s.minimum is not None}
    )


def create_demo_data() -> dict[str, object]:
    """Build the demo; refuses to run twice on the same database."""
    if db.session.scalar(select(User).limit(1)) is not None:
        raise RuntimeError("the database already has users: demo data is for an empty database")
    real_now = clock.now()
    try:
        return _build(real_now)
    finally:
        clock.reset_clock()


def _build(real_now: datetime) -> dict[str, object]:
    t0 = (real_now - timedelta(days=150)).replace(hour=9, minute=0, second=0, microsecond=0)
    _at(t0)
    users = _users()
    db.session.commit()
    manager = users["manager@mmd.example.org"]
    evaluators = [users[f"evaluator{i}@mmd.example.org"] for i in range(1, 5)]
    orgs = _organisations()
    db.session.commit()

    deadline = (t0 + timedelta(days=30)).replace(hour=16, minute=0)  # 17:00 Brussels (CET)
    full_deadline = deadline + timedelta(days=45)
    c02 = _call(
        "C02",
        "MMD Grant Facility: second call for proposals",
        "application_two_stage",
        manager,
        t0,
        deadline,
        full_deadline,
        "600000.00",
    )

    # Concept notes: drafted and submitted before the deadline.
    _at(t0 + timedelta(days=10))
    apps = []
    for i, (org, owner) in enumerate(orgs[:12]):
        partner = orgs[12][0] if org.country.eu_member and org.org_type != "diaspora" else None
        apps.append(_draft(c02, org, owner, i, partner))
    still_draft, withdrawn, *submitted = apps
    for app in submitted:
        transition(app, "submit", app.created_by)
    transition(
        withdrawn,
        "withdraw",
        withdrawn.created_by,
        comment="The partnership could not be confirmed in time.",
    )

    # After the deadline: the call closes by itself, evaluation opens.
    _at(deadline + timedelta(minutes=5))
    transition(c02, "close", SYSTEM)
    _at(deadline + timedelta(days=2))
    transition(c02, "start_evaluation", manager)
    rejected_admin, *admitted = submitted
    _admin_check(rejected_admin, manager, failing="declaration_signed")
    transition(
        rejected_admin,
        "reject_admin",
        manager,
        comment="The declaration by the lead applicant is not signed.",
    )
    for app in admitted:
        _admin_check(app, manager)
        transition(app, "admit", manager)

    _at(deadline + timedelta(days=10))
    _evaluate(
        admitted,
        evaluators,
        "concept_note",
        manager,
        lambda n, k: (
            [5, 4, 4, 3, 5, 4, 3, 2, 4, 3][n % 10]
            if k == 0
            else [4, 4, 5, 3, 4, 4, 3, 2, 3, 4][n % 10]
        ),
    )
    proposal = selection.preselect_concept_notes(
        _candidates(admitted, "concept_note"),
        c02.budget,
        _thresholds(c02, "concept_note"),
        c02.preselection_ratio,
    )
    by_id = {a.id: a for a in admitted}
    invited = [by_id[c.application_id] for c in proposal.selected]
    for app in invited:
        transition(app, "invite", manager)
    for rejection in proposal.rejected:
        transition(
            by_id[rejection.candidate.application_id],
            "reject",
            manager,
            comment="; ".join(rejection.reasons),
        )

    # Full applications: all but one submitted in time; the last one lapses.
    _at(deadline + timedelta(days=30))
    *full, lapsing = invited
    for app in full:
        transition(app, "submit_full", app.created_by)
    _at(full_deadline + timedelta(minutes=1))
    transition(lapsing, "lapse", SYSTEM)
    _left_awaiting_opening, *to_admit = full
    for app in to_admit:
        _admin_check(app, manager)
        transition(app, "admit_full", manager)
    _at(full_deadline + timedelta(days=12))
    _evaluate(
        to_admit,
        evaluators,
        "full_application",
        manager,
        lambda n, k: [5, 4, 4, 3, 4][n % 5] if k == 0 else [4, 4, 5, 4, 3][n % 5],
    )
    final = selection.select_full_applications(
        _candidates(to_admit, "full_application"),
        {None: Decimal("300000.00")},
        _thresholds(c02, "full_application"),
    )
    by_id = {a.id: a for a in to_admit}
    for c in final.selected:
        transition(by_id[c.application_id], "select", manager)
    for c in final.reserve:
        transition(by_id[c.application_id], "reserve", manager)
    for r in final.rejected:
        transition(
            by_id[r.candidate.application_id], "reject", manager, comment="; ".join(r.reasons)
        )

    # Awards: the first selected is awarded and contracted; the second is found
    # ineligible, which promotes the best reserve application that fits.
    _at(full_deadline + timedelta(days=20))
    selected = [by_id[c.application_id] for c in final.selected]
    if selected:
        transition(selected[0], "award", manager, data={"documents_verified": True})
    if len(selected) > 1:
        transition(
            selected[1],
            "declare_ineligible",
            manager,
            comment="The registration certificate had expired at the deadline.",
        )
    grant = db.session.scalar(select(Grant).order_by(Grant.id).limit(1))
    if grant is not None:
        transition(grant, "send_for_signature", manager)

    # A second call, single-stage and open now, with drafts and submissions under way.
    _at(real_now - timedelta(days=5))
    c03 = _call(
        "C03",
        "MMD Grant Facility: third call for proposals (diaspora and local authorities)",
        "application_single_stage",
        manager,
        real_now - timedelta(days=5),
        (real_now + timedelta(days=40)).replace(hour=16, minute=0, second=0, microsecond=0),
        None,
        "450000.00",
    )
    _at(real_now - timedelta(days=1))
    for i, (org, owner) in enumerate(orgs[2:7]):
        app = _draft(c03, org, owner, i + 20)
        if i % 2 == 0:
            transition(app, "submit", owner)
    db.session.commit()

    states = sorted({a.state for a in db.session.scalars(select(Application))})
    return {
        "users": [(email, name, _staff_label(roles)) for email, name, roles in STAFF]
        + [(o[4], o[5], f"owner of {o[0]}") for o in ORGANISATIONS],
        "password": DEMO_PASSWORD,
        "calls": [c02.code, c03.code],
        "application_states": states,
        "still_draft": still_draft.id,
        "start": t0.astimezone(UTC).isoformat(),
    }
