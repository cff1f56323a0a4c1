"""Manager lists: filters, sorting, keyset pages, search, CSV/XLSX exports and export jobs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import event
from werkzeug.datastructures import MultiDict

from grants.extensions import db
from grants.models import Dialogue, ExportJob, Payment, Report
from grants.services import lists
from reports.spreadsheets import neutralise
from tests.factories import (
    PASSWORD,
    ApplicationFactory,
    CallFactory,
    GrantFactory,
    ManagerFactory,
    OrganisationFactory,
)

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

# Decided applications carry their decision date.
DECIDED = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)


def login(client, user) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


@pytest.fixture
def twelve(app):  # type: ignore[no-untyped-def]
    """Twelve submitted applications of one call, requested amounts tied in threes."""
    call = CallFactory()
    made = []
    for n in range(12):
        made.append(ApplicationFactory(
            call=call, state="submitted", submitted_at=T0 + timedelta(hours=n),
            requested_amount=Decimal(60000 + (n % 4) * 10000),
            title=f"Action number {n} on safe migration",
        ))
    return made


def _query(**args: str) -> lists.Query:
    return lists.parse_query(lists.APPLICATIONS, MultiDict(args))


def _walk(**args: str) -> list[int]:
    """Every id, page by page forward, through the next cursors."""
    seen: list[int] = []
    page = lists.page(lists.APPLICATIONS, _query(**args))
    while True:
        seen += [a.id for a in page.rows]
        if not page.has_next:
            return seen
        page = lists.page(lists.APPLICATIONS, _query(after=page.next_cursor, **args))


def test_keyset_pages_first_middle_last_in_a_stable_order_with_ties(twelve) -> None:  # type: ignore[no-untyped-def]
    expected = [a.id for a in sorted(twelve, key=lambda a: (a.requested_amount, a.id))]
    args = {"sort": "requested", "dir": "asc", "size": "5"}
    first = lists.page(lists.APPLICATIONS, _query(**args))
    assert [a.id for a in first.rows] == expected[:5]
    assert first.total == 12 and first.has_next and not first.has_previous
    middle = lists.page(lists.APPLICATIONS, _query(after=first.next_cursor, **args))
    assert [a.id for a in middle.rows] == expected[5:10]
    assert middle.has_next and middle.has_previous
    last = lists.page(lists.APPLICATIONS, _query(last="1", **args))
    assert [a.id for a in last.rows] == expected[-5:]
    assert not last.has_next and last.has_previous
    before_last = lists.page(lists.APPLICATIONS, _query(before=last.previous_cursor, **args))
    assert [a.id for a in before_last.rows] == expected[-10:-5]
    assert before_last.has_next and before_last.has_previous
    assert _walk(**args) == expected  # every row once, ties broken by id


def test_descending_order_and_other_sorts(twelve) -> None:  # type: ignore[no-untyped-def]
    by_amount = sorted(twelve, key=lambda a: (a.requested_amount, a.id), reverse=True)
    assert _walk(sort="requested", dir="desc", size="4") == [a.id for a in by_amount]
    by_submission = sorted(twelve, key=lambda a: (a.submitted_at, a.id), reverse=True)
    assert _walk(sort="submitted", dir="desc", size="5") == [a.id for a in by_submission]
    newest = sorted(twelve, key=lambda a: a.id, reverse=True)
    assert _walk(size="5") == [a.id for a in newest]  # the default: newest first
    by_title = sorted(twelve, key=lambda a: (a.title, a.id))
    assert _walk(sort="title", dir="asc", size="7") == [a.id for a in by_title]


def test_a_tampered_cursor_gives_the_first_page(twelve) -> None:  # type: ignore[no-untyped-def]
    first = lists.page(lists.APPLICATIONS, _query(size="5"))
    tampered = lists.page(lists.APPLICATIONS, _query(size="5", after="bm90IGpzb24"))
    assert [a.id for a in tampered.rows] == [a.id for a in first.rows]
    assert lists.decode_cursor(lists.encode_cursor("x", 3), "datetime") is None


def test_filters(app) -> None:  # type: ignore[no-untyped-def]
    call_a, call_b = CallFactory(), CallFactory()
    la = OrganisationFactory(org_type="local_authority", country_iso2="ML")
    one = ApplicationFactory(call=call_a, state="submitted", submitted_at=T0)
    two = ApplicationFactory(call=call_a, organisation=la, state="rejected", decided_at=DECIDED,
                             submitted_at=T0)
    three = ApplicationFactory(call=call_b, state="submitted", submitted_at=T0)
    three.dialogues = [db.session.get(Dialogue, "khartoum")]
    db.session.commit()

    def ids(**args: str) -> set[int]:
        return {a.id for a in lists.page(lists.APPLICATIONS, _query(**args)).rows}

    assert ids(call=str(call_a.id)) == {one.id, two.id}
    assert ids(state="rejected") == {two.id}
    assert ids(org_type="local_authority") == {two.id}
    assert ids(country="ml") == {two.id}
    assert ids(dialogue="khartoum") == {three.id}
    assert ids(call=str(call_a.id), state="submitted") == {one.id}
    assert ids(state="not-a-state") == {one.id, two.id, three.id}  # an unknown value is dropped
    # The count matches the rows, whether or not the filters need the joins.
    for args in ({"call": str(call_a.id)}, {"org_type": "local_authority"}, {"q": "phase"}):
        query = _query(**args)
        assert lists.count(lists.APPLICATIONS, query) == len(
            lists.page(lists.APPLICATIONS, query).rows)


def test_search(app) -> None:  # type: ignore[no-untyped-def]
    water = OrganisationFactory(name="Réseau Eau Solidaire")
    one = ApplicationFactory(state="submitted", submitted_at=T0, organisation=water,
                             title="Returnees reintegration in Kayes", reference="MMD-2026-X1-0007")
    two = ApplicationFactory(state="submitted", submitted_at=T0,
                             title="Diaspora investment forum", reference="MMD-2026-X1-0008")

    def ids(text: str) -> set[int]:
        return {a.id for a in lists.page(lists.APPLICATIONS, _query(q=text)).rows}

    assert ids("reintegration") == {one.id}
    assert ids("kayes returnees") == {one.id}  # every word, in any order
    assert ids("DIASPORA") == {two.id}
    assert ids("solidaire") == {one.id}  # the organisation's name
    assert ids("0008") == {two.id}  # a reference
    assert ids("invest") == {two.id}  # a word's beginning
    assert ids("kayes forum") == set()
    assert ids("100%_") == set()  # LIKE wildcards are text, not patterns
    assert ids("  ") == {one.id, two.id}


def _count_queries(client, url: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    count = 0

    def counter(*_args: object) -> None:
        nonlocal count
        count += 1

    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return count, response.get_data(as_text=True)


def test_list_pages_render_in_a_few_queries_whatever_the_rows(client, twelve) -> None:  # type: ignore[no-untyped-def]
    login(client, ManagerFactory())
    small, html = _count_queries(client, "/dashboard/lists/applications?size=5&sort=requested")
    assert twelve[0].title in html or twelve[4].title in html
    assert 'rel="next"' in html and "Last</a>" in html
    for _n in range(6):
        ApplicationFactory(call=twelve[0].call, state="submitted", submitted_at=T0)
    large, _ = _count_queries(client, "/dashboard/lists/applications?size=50")
    last, _ = _count_queries(client, "/dashboard/lists/applications?size=5&last=1")
    assert small == large == last
    assert large <= 10


def _grant_with_money(app):  # type: ignore[no-untyped-def]
    grant = GrantFactory(state="active", signed_at=T0, application=ApplicationFactory(
        state="awarded", decided_at=DECIDED, submitted_at=T0))
    grant.payments = [
        Payment(sequence=1, kind="prefinancing", trigger="signature", state="paid",
                planned_amount=Decimal("96000.00"), amount=Decimal("96000.00"), paid_at=T0),
        Payment(sequence=2, kind="balance", trigger="final_report", state="planned",
                planned_amount=Decimal("24000.00")),
    ]
    grant.reports = [
        Report(kind="interim", sequence=1, period_start=date(2027, 1, 1),
               period_end=date(2027, 3, 31), due_date=date(2027, 4, 30), state="due"),
        Report(kind="final", sequence=1, period_start=date(2027, 1, 1),
               period_end=date(2027, 6, 30), due_date=date(2027, 8, 31), state="due"),
    ]
    db.session.commit()
    return grant


def test_grant_payment_and_report_lists(client, app, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    grant = _grant_with_money(app)
    login(client, ManagerFactory())
    html = client.get("/dashboard/lists/grants").get_data(as_text=True)
    assert grant.number in html and "EUR 96,000.00" in html  # paid, from the subquery
    page = lists.page(lists.GRANTS, lists.parse_query(lists.GRANTS, MultiDict()))
    assert page.rows[0][1] == Decimal("96000.00")
    html = client.get("/dashboard/lists/payments?state=planned").get_data(as_text=True)
    assert "EUR 24,000.00" in html and "EUR 96,000.00" not in html
    frozen_clock.set(datetime(2027, 5, 10, tzinfo=UTC))
    overdue = lists.page(lists.REPORTS, lists.parse_query(lists.REPORTS, MultiDict(
        {"overdue": "yes"})))
    assert [(r.kind, r.sequence) for r in overdue.rows] == [("interim", 1)]
    html = client.get("/dashboard/lists/reports").get_data(as_text=True)
    assert "overdue" in html


def test_unknown_list_is_404(client, app) -> None:  # type: ignore[no-untyped-def]
    login(client, ManagerFactory())
    assert client.get("/dashboard/lists/users").status_code == 404


def test_neutralise() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("+33 1 23") == "'+33 1 23"
    assert neutralise("-2") == "'-2"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("\t=cmd") == "'\t=cmd"
    assert neutralise("Plain text = fine") == "Plain text = fine"


@pytest.fixture
def injected(app):  # type: ignore[no-untyped-def]
    organisation = OrganisationFactory(name="@Evil Org")
    return ApplicationFactory(state="submitted", submitted_at=T0, organisation=organisation,
                              title='=HYPERLINK("http://example.com","click")',
                              requested_amount=Decimal("123456.78"))


def test_csv_export_content_and_formula_neutralising(client, injected) -> None:  # type: ignore[no-untyped-def]
    login(client, ManagerFactory())
    response = client.post("/dashboard/lists/applications/export", data={"format": "csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Reference", "Title", "Call"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Title"] == '\'=HYPERLINK("http://example.com","click")'
    assert row["Organisation"] == "'@Evil Org"
    assert row["Requested"] == "123456.78"
    assert row["Reference"] == injected.reference


def test_xlsx_export_content_and_formula_neutralising(client, injected) -> None:  # type: ignore[no-untyped-def]
    login(client, ManagerFactory())
    response = client.post("/dashboard/lists/applications/export",
                           data={"format": "xlsx", "q": "hyperlink"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Title"] == '\'=HYPERLINK("http://example.com","click")'
    assert row["Organisation"] == "'@Evil Org"
    assert Decimal(str(row["Requested"])) == Decimal("123456.78")
    title_cell = sheet.cell(row=2, column=2)
    assert title_cell.data_type == "s"


def test_export_follows_the_filters(client, injected) -> None:  # type: ignore[no-untyped-def]
    ApplicationFactory(state="rejected", decided_at=DECIDED, submitted_at=T0, title="Another one")
    login(client, ManagerFactory())
    response = client.post("/dashboard/lists/applications/export",
                           data={"format": "csv", "state": "rejected"})
    body = response.get_data(as_text=True)
    assert "Another one" in body and "HYPERLINK" not in body


def test_large_exports_run_as_jobs_downloadable_only_by_their_owner(client, app, twelve) -> None:  # type: ignore[no-untyped-def]
    app.config["EXPORT_INLINE_MAX_ROWS"] = 5
    owner, other = ManagerFactory(), ManagerFactory()
    login(client, owner)
    response = client.post("/dashboard/lists/applications/export",
                           data={"format": "csv", "sort": "requested", "dir": "asc"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard/exports")
    job = db.session.scalars(db.select(ExportJob)).one()
    assert (job.user_id, job.status, job.row_count) == (owner.id, "ready", 12)
    assert job.params["query"] == {"sort": "requested", "dir": "asc"}
    listing = client.get("/dashboard/exports").get_data(as_text=True)
    assert f"/dashboard/exports/{job.id}/download" in listing
    download = client.get(f"/dashboard/exports/{job.id}/download")
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    amounts = [Decimal(r[7]) for r in rows[1:]]
    assert len(amounts) == 12 and amounts == sorted(amounts)
    client.post("/account/logout")
    login(client, other)
    assert client.get(f"/dashboard/exports/{job.id}/download").status_code == 404
    assert f"/exports/{job.id}/download" not in client.get("/dashboard/exports").get_data(
        as_text=True)


def test_export_needs_a_post_with_a_known_format(client, app) -> None:  # type: ignore[no-untyped-def]
    login(client, ManagerFactory())
    assert client.get("/dashboard/lists/applications/export").status_code == 405
    assert client.post("/dashboard/lists/applications/export",
                       data={"format": "pdf"}).status_code == 400
