"""The dashboard's facts and running totals follow every kind of change, in its transaction.

After each change (through the transition pipeline where there is one), the stored
facts must equal the facts computed again from the source tables, and the stored
totals the totals of those facts; the dashboard then shows the change.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from grants.extensions import db
from grants.models import Application, Country, Dialogue, Grant
from grants.models.dashboard import ApplicationFacts, DashboardRollup
from grants.services import dashboard, dashboard_facts
from grants.services.actors import SYSTEM
from grants.services.dashboard import Filters
from grants.services.transitions import transition
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    EvaluationResultFactory,
    GrantFactory,
    ManagerFactory,
    admin_checks,
    sign_as_grantee,
)


def assert_counted() -> dict[int, dashboard_facts.Facts]:
    """Stored facts and totals are exactly those the source tables give now."""
    source = dashboard_facts.source_facts(db.session)
    assert dashboard_facts.stored_facts(db.session) == source
    assert dashboard_facts.stored_totals(db.session) == dashboard_facts.totals_of(source.values())
    return source


def states(**filters: object) -> dict[str, int]:
    return dashboard.build(Filters(**filters)).states  # type: ignore[arg-type]


def commit_meanwhile(app, change) -> None:  # type: ignore[no-untyped-def]
    """Run `change` and commit it in another transaction while the test's is open, then
    commit the test's: the other waits for a lock (or does not), both must succeed."""
    errors: list[BaseException] = []

    def meanwhile() -> None:
        try:
            with app.app_context():
                change()
                db.session.commit()  # counts: waits for the open transaction's lock
                db.session.remove()
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    waiting = threading.Thread(target=meanwhile)
    waiting.start()
    with db.engine.connect() as watcher:
        for _ in range(200):
            if not waiting.is_alive() or watcher.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")):
                break
            time.sleep(0.05)
    db.session.commit()
    waiting.join(timeout=30)
    assert not errors and not waiting.is_alive()


@pytest.fixture
def manager(app):  # type: ignore[no-untyped-def]
    return ManagerFactory()


def test_submit_and_withdraw(app, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    call = CallFactory()
    draft = ApplicationFactory(call=call)
    assert assert_counted()[draft.id].state == "draft"
    assert states(call_id=call.id) == {"draft": 1}

    transition(draft, "submit", draft.created_by)
    facts = assert_counted()[draft.id]
    assert facts.submitted_on == frozen_clock.current.date()
    assert facts.requested_cents == 12_000_000
    assert facts.dialogues == ",c2cmmd,rabat," and facts.countries == ",ML,SN,"
    board = dashboard.build(Filters(call_id=call.id))
    assert board.states == {"submitted": 1}
    assert board.money[0].requested == Decimal("120000.00")
    day = frozen_clock.current.date()
    assert states(date_from=day, date_to=day) == {"submitted": 1}

    transition(draft, "withdraw", draft.created_by)
    assert_counted()
    assert states(call_id=call.id) == {"withdrawn": 1}


def test_evaluation_decisions(app, frozen_clock, manager) -> None:  # type: ignore[no-untyped-def]
    call = CallFactory()
    application = ApplicationFactory(call=call)
    transition(application, "submit", application.created_by)
    admin_checks(application, manager)
    transition(application, "admit", manager)
    assert_counted()
    EvaluationResultFactory(application=application, stage="concept_note", passes=False,
                            total=Decimal("40.00"))
    assert_counted()  # a score alone changes no figure
    transition(application, "reject", manager)
    assert_counted()
    board = dashboard.build(Filters(call_id=call.id))
    assert board.states == {"rejected": 1}
    assert [(k, n) for k, _label, n in board.funnel][:2] == [("submitted", 1), ("admitted", 1)]


def test_award_signature_and_payment(app, frozen_clock, manager) -> None:  # type: ignore[no-untyped-def]
    application = ApplicationFactory(state="provisionally_selected",
                                     submitted_at=frozen_clock.current)
    call_id = application.call_id
    transition(application, "award", manager, data={"documents_verified": True})
    facts = assert_counted()[application.id]
    assert (facts.awarded_cents, facts.committed_cents) == (12_000_000, 0)
    grant = db.session.scalar(select(Grant).where(Grant.application_id == application.id))

    transition(grant, "send_for_signature", manager)
    sign_as_grantee(grant, grant.application.created_by)
    transition(grant, "sign", manager)
    assert assert_counted()[application.id].committed_cents == 12_000_000

    first = grant.payments[0]
    recounts = []
    original = dashboard_facts.refresh
    dashboard_facts.refresh = lambda *a, **kw: recounts.append(kw) or original(*a, **kw)
    try:
        transition(first, "request", SYSTEM)
        transition(first, "approve", manager)
        assert recounts == []  # a payment not paid changes no figure: nothing recounted
        assert assert_counted()[application.id].paid_cents == 0
        transition(first, "pay", manager)
        assert len(recounts) == 1
    finally:
        dashboard_facts.refresh = original
    assert assert_counted()[application.id].paid_cents == int(first.amount * 100)
    whole = dashboard.build(Filters(call_id=call_id)).money[0]
    assert (whole.awarded, whole.committed, whole.paid) == (
        Decimal("120000.00"), Decimal("120000.00"), first.amount)
    awarded = {r.key: r.awarded for r in dashboard.build(Filters()).breakdowns["dialogue"]}
    assert awarded == {"rabat": 1, "c2cmmd": 1}


def test_a_lapsed_grant_is_no_award(app, frozen_clock, manager) -> None:  # type: ignore[no-untyped-def]
    grant = GrantFactory()
    transition(grant, "send_for_signature", manager)
    assert assert_counted()[grant.application_id].awarded_cents == 12_000_000
    frozen_clock.advance(days=31)
    transition(grant, "lapse", SYSTEM)
    assert assert_counted()[grant.application_id].awarded_cents == 0


def test_edits_of_the_form_and_of_the_organisation(app, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    draft = ApplicationFactory()
    draft.countries = [db.session.get(Country, "GH")]
    draft.dialogues = [db.session.get(Dialogue, "khartoum")]
    draft.jvap_links.pop()
    draft.requested_amount = Decimal("90000.00")
    db.session.commit()
    facts = assert_counted()[draft.id]
    assert (facts.countries, facts.dialogues, facts.jvap_domains) == (",GH,", ",khartoum,", ",1,")

    draft.organisation.country_iso2 = "NE"
    draft.organisation.org_type = "diaspora"
    db.session.commit()
    facts = assert_counted()[draft.id]
    assert (facts.applicant_country, facts.applicant_type) == ("NE", "diaspora")


def test_a_deleted_application_leaves_the_totals(app, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    kept, dropped = ApplicationFactory(), ApplicationFactory()
    db.session.delete(dropped)
    db.session.commit()
    assert set(assert_counted()) == {kept.id}
    assert states() == {"draft": 1}


def test_a_rolled_back_change_counts_nothing(app, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    draft = ApplicationFactory()
    draft.state = "withdrawn"
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert assert_counted()[draft.id].state == "draft"


def test_rebuild_counts_what_was_written_around_the_orm(app, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    application = ApplicationFactory(state="submitted", submitted_at=frozen_clock.current)
    db.session.execute(
        Application.__table__.update().where(Application.id == application.id)
        .values(requested_amount=Decimal("50000.00")))
    db.session.commit()
    assert dashboard_facts.stored_facts(db.session)[application.id].requested_cents == 12_000_000
    assert dashboard_facts.rebuild(db.session) == 1
    db.session.commit()
    assert assert_counted()[application.id].requested_cents == 5_000_000


def test_totals_are_sums_kept_per_day_and_for_all_time(app, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    call = CallFactory()
    for days in (0, 0, 2):
        ApplicationFactory(call=call, state="submitted",
                           submitted_at=frozen_clock.current + timedelta(days=days))
    ApplicationFactory(call=call)
    assert_counted()
    rows = db.session.execute(
        select(DashboardRollup.day, DashboardRollup.applications)
        .where(DashboardRollup.kind == "pipeline", DashboardRollup.state == "submitted")
    ).all()
    today = frozen_clock.current.date().toordinal()
    assert sorted(rows) == [(0, 3), (today, 2), (today + 2, 1)]
    assert db.session.scalar(select(ApplicationFacts.search_text).limit(1))


@pytest.mark.postgres
def test_two_transactions_on_one_application_count_in_turn(app, frozen_clock, manager) -> None:  # type: ignore[no-untyped-def]
    """The second waits for the first's commit, then counts against its facts."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite runs one writer at a time)")
    from grants.models import Payment

    grant = GrantFactory(state="active", signed_at=frozen_clock.current)
    grant.payments = [Payment(sequence=1, kind="prefinancing", trigger="signature",
                              state="approved", planned_amount=Decimal("60000.00"),
                              amount=Decimal("60000.00"))]
    db.session.commit()
    grant_id, payment_id, application_id = grant.id, grant.payments[0].id, grant.application_id

    # The first transaction changes the grant and counts it, not yet committed.
    grant.amount = Decimal("100000.00")
    dashboard_facts.bring_up_to_date(db.session)

    def pay() -> None:
        payment = db.session.get(Payment, payment_id)
        payment.state, payment.paid_at = "paid", frozen_clock.current

    commit_meanwhile(app, pay)
    facts = assert_counted()[application_id]
    assert (facts.awarded_cents, facts.paid_cents) == (10_000_000, 6_000_000)
    assert db.session.get(Grant, grant_id).amount == Decimal("100000.00")


@pytest.mark.postgres
@pytest.mark.parametrize("open_first", ["organisation change", "new application"])
def test_an_organisation_changed_while_an_application_of_it_is_created(  # type: ignore[no-untyped-def]
    app, frozen_clock, open_first
) -> None:
    """The organisation's new type is counted for an application created meanwhile,
    whichever transaction counts first: the new application's count holds the
    organisation row. (A new country needs no help: it is part of a unique key, so the
    insert's foreign key check waits already.)"""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite runs one writer at a time)")
    from grants.models import Call, Organisation, User

    first = ApplicationFactory(state="submitted", submitted_at=frozen_clock.current)
    organisation_id, call_id = first.organisation_id, first.call_id
    creator_id = first.created_by_id
    assert first.organisation.org_type != "diaspora"
    db.session.commit()

    def change_organisation() -> None:
        db.session.get(Organisation, organisation_id).org_type = "diaspora"

    def create_application() -> None:
        db.session.add(Application(
            call=db.session.get(Call, call_id),
            organisation=db.session.get(Organisation, organisation_id),
            created_by=db.session.get(User, creator_id), title="Created meanwhile",
            reference="TEST-RACE-0001", state="submitted", submitted_at=frozen_clock.current,
            requested_amount=Decimal("50000.00")))

    opened, other = ((change_organisation, create_application)
                     if open_first == "organisation change"
                     else (create_application, change_organisation))
    opened()
    dashboard_facts.bring_up_to_date(db.session)  # counted, not committed
    commit_meanwhile(app, other)
    db.session.expire_all()
    counted = assert_counted()
    assert len(counted) == 2
    assert {facts.applicant_type for facts in counted.values()} == {"diaspora"}


def test_the_rebuild_command_counts_again(app, runner, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    application = ApplicationFactory(state="submitted", submitted_at=frozen_clock.current)
    db.session.execute(
        Application.__table__.update().where(Application.id == application.id)
        .values(requested_amount=Decimal("50000.00")))
    db.session.commit()
    result = runner.invoke(args=["grants", "rebuild-dashboard"])
    assert result.exit_code == 0 and "1 applications counted" in result.output
    db.session.expire_all()
    assert assert_counted()[application.id].requested_cents == 5_000_000
