"""The programme dashboard: figures hand-computed on a small programme, pages, filters, PDF."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from pypdf import PdfReader
from sqlalchemy import event

from grants.extensions import db
from grants.models import Dialogue, Lot, Payment
from grants.services import dashboard
from grants.services.dashboard import ZERO, Filters
from tests.factories import (
    PASSWORD,
    AdminFactory,
    ApplicationFactory,
    CallFactory,
    GrantFactory,
    ManagerFactory,
    OrganisationFactory,
    UserFactory,
)

DEC1 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
JAN15 = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)

# Decided applications carry their decision date.
DECIDED = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)


def login(client, user) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


@pytest.fixture
def programme(app):  # type: ignore[no-untyped-def]
    """Call A (two lots): awarded (lot 1, grant paid 80,000), rejected (lot 2), a draft and a
    reserve one submitted in January; call B: one submitted, Khartoum Process only."""
    call_a = CallFactory(budget=Decimal("600000.00"))
    call_a.lots = [Lot(code="L1", title="Lot one", budget=Decimal("400000.00")),
                   Lot(code="L2", title="Lot two", budget=Decimal("200000.00"))]
    db.session.commit()
    lot1, lot2 = call_a.lots
    senegal_cso = OrganisationFactory(org_type="cso", country_iso2="SN")
    mali_la = OrganisationFactory(org_type="local_authority", country_iso2="ML")
    awarded = ApplicationFactory(call=call_a, lot=lot1, organisation=senegal_cso, state="awarded",
                                 decided_at=DECIDED, requested_amount=Decimal("100000.00"),
                                 submitted_at=DEC1)
    ApplicationFactory(call=call_a, lot=lot2, organisation=mali_la, state="rejected",
                       decided_at=DECIDED, requested_amount=Decimal("150000.00"), submitted_at=DEC1)
    ApplicationFactory(call=call_a, state="draft", requested_amount=Decimal("120000.00"))
    ApplicationFactory(call=call_a, organisation=senegal_cso, state="reserve",
                       decided_at=DECIDED, requested_amount=Decimal("50000.00"), submitted_at=JAN15)
    call_b = CallFactory(budget=Decimal("300000.00"))
    diaspora = OrganisationFactory(org_type="diaspora", country_iso2="FR")
    khartoum = ApplicationFactory(call=call_b, organisation=diaspora, state="submitted",
                                  requested_amount=Decimal("90000.00"), submitted_at=DEC1)
    khartoum.dialogues = [db.session.get(Dialogue, "khartoum")]
    grant = GrantFactory(application=awarded, state="active", signed_at=DEC1)
    grant.payments = [
        Payment(sequence=1, kind="prefinancing", trigger="signature", state="paid",
                planned_amount=Decimal("80000.00"), amount=Decimal("80000.00"), paid_at=JAN15),
        Payment(sequence=2, kind="balance", trigger="final_report", state="planned",
                planned_amount=Decimal("20000.00")),
    ]
    db.session.commit()
    return {"a": call_a, "b": call_b, "grant": grant}


def test_pipeline_and_funnel_of_a_call(programme) -> None:  # type: ignore[no-untyped-def]
    board = dashboard.build(Filters(call_id=programme["a"].id))
    assert board.states == {"awarded": 1, "rejected": 1, "draft": 1, "reserve": 1}
    # awarded 1; selected adds none; shortlisted adds the reserve; admitted the rejected one.
    assert [(k, n) for k, _label, n in board.funnel] == [
        ("submitted", 3), ("admitted", 3), ("shortlisted", 2), ("selected", 1), ("awarded", 1)]


def test_money_per_call_and_lot(programme) -> None:  # type: ignore[no-untyped-def]
    board = dashboard.build(Filters())
    rows = {(r.call_code, r.lot_code): r for r in board.money}
    a, b = programme["a"].code, programme["b"].code
    whole = rows[(a, None)]
    assert (whole.envelope, whole.requested, whole.awarded, whole.committed, whole.paid) == (
        Decimal("600000.00"), Decimal("300000.00"), Decimal("100000.00"),
        Decimal("100000.00"), Decimal("80000.00"))
    lot1, lot2 = rows[(a, "L1")], rows[(a, "L2")]
    assert (lot1.envelope, lot1.requested, lot1.awarded, lot1.paid) == (
        Decimal("400000.00"), Decimal("100000.00"), Decimal("100000.00"), Decimal("80000.00"))
    assert (lot2.envelope, lot2.requested, lot2.awarded, lot2.paid) == (
        Decimal("200000.00"), Decimal("150000.00"), Decimal("0.00"), Decimal("0.00"))
    assert rows[(b, None)].requested == Decimal("90000.00")
    assert board.totals is not None
    assert board.totals.envelope == Decimal("900000.00")
    assert board.totals.requested == Decimal("390000.00")


def test_a_grant_not_yet_signed_is_awarded_but_not_committed(programme) -> None:  # type: ignore[no-untyped-def]
    programme["grant"].state = "awaiting_signature"
    programme["grant"].signed_at = None
    db.session.commit()
    whole = dashboard.build(Filters(call_id=programme["a"].id)).money[0]
    assert (whole.awarded, whole.committed) == (Decimal("100000.00"), Decimal("0.00"))


def test_breakdowns(programme) -> None:  # type: ignore[no-untyped-def]
    board = dashboard.build(Filters(call_id=programme["a"].id))

    def table(key: str) -> dict[str, tuple[int, Decimal, int]]:
        return {r.key: (r.applications, r.requested, r.awarded) for r in board.breakdowns[key]}

    assert table("applicant_type") == {
        "cso": (2, Decimal("150000.00"), 1), "local_authority": (1, Decimal("150000.00"), 0)}
    assert table("applicant_country") == {
        "SN": (2, Decimal("150000.00"), 1), "ML": (1, Decimal("150000.00"), 0)}
    assert table("implementation_country") == {
        "SN": (3, Decimal("300000.00"), 1), "ML": (3, Decimal("300000.00"), 1)}
    assert table("dialogue") == {
        "rabat": (3, Decimal("300000.00"), 1), "c2cmmd": (3, Decimal("300000.00"), 1)}
    assert table("jvap_domain") == {
        "1": (3, Decimal("300000.00"), 1), "3": (3, Decimal("300000.00"), 1)}
    assert board.breakdowns["applicant_type"][0].label == "Civil-society organisation"
    assert {r.label for r in board.breakdowns["dialogue"]} == {"Rabat Process", "C2CMMD"}


def test_filters_by_dialogue_and_period(programme) -> None:  # type: ignore[no-untyped-def]
    khartoum = dashboard.build(Filters(dialogue="khartoum"))
    assert khartoum.states == {"submitted": 1}
    assert {r.key for r in khartoum.breakdowns["applicant_type"]} == {"diaspora"}
    january = dashboard.build(Filters(date_from=date(2027, 1, 1), date_to=date(2027, 1, 31)))
    assert january.states == {"reserve": 1}
    december = dashboard.build(Filters(date_to=date(2026, 12, 1)))
    assert december.states == {"awarded": 1, "rejected": 1, "submitted": 1}
    assert sum(r.requested for r in december.money if r.lot_code is None) == Decimal("340000.00")


def test_query_count_does_not_depend_on_the_data(programme) -> None:  # type: ignore[no-untyped-def]
    def queries() -> int:
        count = 0

        def counter(*_args: object) -> None:
            nonlocal count
            count += 1

        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            dashboard.build(Filters())
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        return count

    before = queries()
    for _ in range(3):
        ApplicationFactory(call=programme["b"], state="submitted", submitted_at=DEC1)
    assert queries() == before
    assert before <= 12


def test_page_shows_charts_and_tables_to_managers(client, programme) -> None:  # type: ignore[no-untyped-def]
    login(client, ManagerFactory())
    response = client.get("/dashboard/", query_string={"call": programme["a"].id})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="chart-funnel"' in html and 'role="img"' in html
    assert "<script" not in html.split("</head>")[1]
    assert "Civil-society organisation" in html
    assert "EUR 600,000.00" in html and "EUR 80,000.00" in html
    # Each chart is valid SVG (parsed as XML) with its title and description.
    start = html.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-funnel"')
    svg = ElementTree.fromstring(html[start:html.index("</svg>", start) + 6])  # noqa: S314 (ours)
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.find(f"{ns}title").text == "From submission to award"
    assert [g.get("data-value") for g in svg.iter(f"{ns}g")] == ["3", "3", "2", "1", "1"]


def test_admins_see_it_and_others_do_not(client, programme) -> None:  # type: ignore[no-untyped-def]
    login(client, AdminFactory())
    assert client.get("/dashboard/").status_code == 200
    client.post("/account/logout")
    login(client, UserFactory())
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/audit").status_code == 403
    assert client.get("/dashboard/lists/applications").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, app) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]


def test_programme_report_pdf(client, programme) -> None:  # type: ignore[no-untyped-def]
    login(client, ManagerFactory())
    response = client.get("/dashboard/programme-report.pdf",
                          query_string={"dialogue": "khartoum"})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "Programme report" in text or "PROGRAMME REPORT" in text
    assert "Khartoum" in text
    assert "Diaspora organisation" in text


def test_malformed_filters_are_ignored(client, programme) -> None:  # type: ignore[no-untyped-def]
    login(client, ManagerFactory())
    response = client.get("/dashboard/", query_string={"call": "x'; --", "from": "2027-13-45"})
    assert response.status_code == 200


def test_page_figures_count_every_change_at_once(programme, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    first = dashboard.page_figures(Filters())
    assert first.computed_at == frozen_clock.current
    ApplicationFactory(call=programme["b"], state="submitted", submitted_at=DEC1)
    fresh = dashboard.page_figures(Filters())
    assert fresh.board.states["submitted"] == first.board.states["submitted"] + 1
    programme["grant"].payments[1].state = "paid"
    programme["grant"].payments[1].amount = Decimal("20000.00")
    programme["grant"].payments[1].paid_at = JAN15
    db.session.commit()
    whole = dashboard.page_figures(Filters(call_id=programme["a"].id)).board.money[0]
    assert whole.paid == Decimal("100000.00")


def test_changes_not_yet_committed_are_counted_in_their_own_transaction(programme) -> None:  # type: ignore[no-untyped-def]
    programme["grant"].state = "lapsed"
    db.session.flush()
    whole = dashboard.build(Filters(call_id=programme["a"].id)).money[0]
    assert (whole.awarded, whole.committed, whole.paid) == (ZERO, ZERO, ZERO)
    db.session.rollback()
    whole = dashboard.build(Filters(call_id=programme["a"].id)).money[0]
    assert whole.awarded == Decimal("100000.00")


def test_a_period_of_one_day_and_a_dialogue_together(programme) -> None:  # type: ignore[no-untyped-def]
    day = dashboard.build(Filters(date_from=date(2026, 12, 1), date_to=date(2026, 12, 1),
                                  dialogue="rabat"))
    assert day.states == {"awarded": 1, "rejected": 1}
    assert {r.key: r.applications for r in day.breakdowns["dialogue"]} == {
        "rabat": 2, "c2cmmd": 2}
    assert dashboard.build(Filters(date_from=date(2027, 1, 16))).states == {}
    since = dashboard.build(Filters(date_from=date(2027, 1, 15)))
    assert since.states == {"reserve": 1}
    assert since.breakdowns["applicant_country"][0].label == "Senegal"


def test_a_dialogue_filter_is_a_code_not_a_pattern(programme) -> None:  # type: ignore[no-untyped-def]
    assert dashboard.build(Filters(dialogue="%")).states == {}
    assert dashboard.build(Filters(dialogue="rab_t")).states == {}


def test_the_filter_form_offers_every_call_whatever_the_filter(client, programme) -> None:  # type: ignore[no-untyped-def]
    login(client, ManagerFactory())
    html = client.get("/dashboard/", query_string={"call": programme["b"].id}).get_data(
        as_text=True)
    assert programme["a"].code in html and programme["b"].code in html
    assert "Figures as of 20" in html
