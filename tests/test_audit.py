"""The audit log: object histories, the filtered log, and the tamper-evident hash chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from grants.audit_cli import audit_cli
from grants.extensions import db
from grants.models import AuditEvent, Payment
from grants.services import audit
from grants.services.transitions import transition
from tests.factories import (
    PASSWORD,
    ApplicationFactory,
    GrantFactory,
    ManagerFactory,
    UserFactory,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def login(client, user) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def add_events(count: int, *, start: datetime = T0, actor=None, **fields) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    made = []
    for n in range(count):
        values = {
            "occurred_at": start + timedelta(hours=n),
            "actor_id": actor.id if actor else None,
            "actor_label": actor.label if actor else "system",
            "object_type": "applications",
            "object_id": 100 + n,
            "event": "submit",
            "from_state": "draft",
            "to_state": "submitted",
            "comment": f"comment {n}",
            "data": {"n": n, "note": "ünïcode"},
        }
        values.update(fields)
        made.append(AuditEvent(**values))
    db.session.add_all(made)
    db.session.commit()
    return made


def test_seal_then_verify(app) -> None:  # type: ignore[no-untyped-def]
    events = add_events(5)
    assert audit.seal() == 5
    db.session.expire_all()
    assert all(e.chain_hash and len(e.chain_hash) == 64 for e in events)
    assert len({e.chain_hash for e in events}) == 5
    # The first is chained to the genesis value, each next one to the one before.
    assert events[0].chain_hash == audit.chain(audit.GENESIS, events[0])
    assert events[3].chain_hash == audit.chain(events[2].chain_hash, events[3])
    result = audit.verify()
    assert (result.ok, result.checked, result.unsealed) == (True, 5, 0)


def test_sealing_is_incremental(app) -> None:  # type: ignore[no-untyped-def]
    first = add_events(3)
    assert audit.seal() == 3
    kept = [e.chain_hash for e in first]
    later = add_events(2)
    assert audit.verify().unsealed == 2
    assert audit.seal() == 2
    assert audit.seal() == 0
    db.session.expire_all()
    assert [e.chain_hash for e in first] == kept
    assert later[0].chain_hash == audit.chain(first[-1].chain_hash, later[0])
    assert audit.verify().ok


def _alter(sql: str, **params: object) -> None:
    db.session.execute(text(sql), params)
    db.session.commit()
    db.session.expire_all()


def test_the_audit_chain_check_fails_when_a_row_is_altered(app, runner) -> None:  # type: ignore[no-untyped-def]
    events = add_events(6)
    audit.seal()
    assert runner.invoke(audit_cli, ["verify"]).exit_code == 0
    _alter("UPDATE audit_events SET comment = 'nothing to see' WHERE id = :id", id=events[3].id)
    result = audit.verify()
    assert not result.ok and result.broken_id == events[3].id and result.checked == 3
    outcome = runner.invoke(audit_cli, ["verify"])
    assert outcome.exit_code != 0
    assert f"broken at event {events[3].id}" in outcome.output


@pytest.mark.parametrize("column, value", [
    ("to_state", "awarded"), ("actor_label", "someone else"), ("object_id", 999),
])
def test_any_altered_column_breaks_the_chain(app, column, value) -> None:  # type: ignore[no-untyped-def]
    events = add_events(3)
    audit.seal()
    _alter(f"UPDATE audit_events SET {column} = :v WHERE id = :id", v=value, id=events[1].id)
    assert audit.verify().broken_id == events[1].id


def test_rehashing_an_altered_row_breaks_the_next_one(app) -> None:  # type: ignore[no-untyped-def]
    events = add_events(4)
    audit.seal()
    db.session.expire_all()
    tampered = events[1]
    tampered.comment = "rewritten"
    previous = events[0].chain_hash
    tampered.chain_hash = audit.chain(previous, tampered)
    db.session.commit()
    assert audit.verify().broken_id == events[2].id


def test_a_deleted_row_breaks_the_chain(app) -> None:  # type: ignore[no-untyped-def]
    events = add_events(4)
    audit.seal()
    _alter("DELETE FROM audit_events WHERE id = :id", id=events[1].id)
    assert audit.verify().broken_id == events[2].id


def test_an_erased_hash_is_reported(app) -> None:  # type: ignore[no-untyped-def]
    events = add_events(4)
    audit.seal()
    _alter("UPDATE audit_events SET chain_hash = NULL WHERE id = :id", id=events[1].id)
    result = audit.verify()
    assert not result.ok and result.broken_id == events[1].id


def test_seal_command(app, runner) -> None:  # type: ignore[no-untyped-def]
    add_events(2)
    assert "Sealed 2 audit events." in runner.invoke(audit_cli, ["seal"]).output
    assert "2 sealed events verified" in runner.invoke(audit_cli, ["verify"]).output


def test_events_written_by_transitions_are_sealed_and_verified(app, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    application = ApplicationFactory()
    transition(application, "submit", application.created_by)
    assert audit.seal() >= 1
    assert audit.verify().ok


def test_application_page_shows_its_history(client, app, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    application = ApplicationFactory()
    transition(application, "submit", application.created_by, comment="Sent <at last>")
    login(client, ManagerFactory())
    html = client.get(f"/dashboard/applications/{application.id}").get_data(as_text=True)
    assert "History" in html
    assert "submit" in html and "Sent &lt;at last&gt;" in html
    assert application.created_by.name in html
    assert client.get("/dashboard/applications/999999").status_code == 404


def test_grant_page_shows_the_history_of_the_grant_and_its_payments(client, app) -> None:  # type: ignore[no-untyped-def]
    grant = GrantFactory(state="active", signed_at=T0, application=ApplicationFactory(
        state="awarded", decided_at=T0, submitted_at=T0))
    payment = Payment(sequence=1, kind="prefinancing", trigger="signature", state="planned",
                      planned_amount=grant.amount)
    grant.payments = [payment]
    db.session.commit()
    add_events(1, object_type="grants", object_id=grant.id, event="countersign",
               comment="grant event")
    add_events(1, object_type="payments", object_id=payment.id, event="request",
               comment="payment event")
    add_events(1, object_type="payments", object_id=payment.id + 1000, event="request",
               comment="someone else's payment")
    login(client, ManagerFactory())
    html = client.get(f"/dashboard/grants/{grant.id}").get_data(as_text=True)
    assert "grant event" in html and "payment event" in html
    assert "someone else" not in html


def test_audit_log_filters_and_pages(client, app) -> None:  # type: ignore[no-untyped-def]
    alice = UserFactory(name="Alice Diop")
    add_events(3, actor=alice, event="admit", start=T0)
    add_events(2, event="reject_admin", start=T0 + timedelta(days=10))
    add_events(1, object_type="grants", object_id=7, event="sign", start=T0 + timedelta(days=20))

    def ids(**args: str) -> list[int]:
        page = audit.events(audit.parse_filters(args))
        return [e.event for e in page.events]

    assert ids(event="admit") == ["admit"] * 3
    assert ids(actor="alice") == ["admit"] * 3
    assert ids(actor=str(alice.id)) == ["admit"] * 3
    assert ids(object_type="grants") == ["sign"]
    assert ids(object_type="grants", object_id="8") == []
    assert ids(**{"from": "2026-12-11", "to": "2026-12-11"}) == ["reject_admin"] * 2
    assert ids(**{"from": "2026-12-05"}) == ["sign", "reject_admin", "reject_admin"]
    # Newest first, a page at a time, older and newer by keyset.
    page = audit.events(audit.AuditFilters(), size=4)
    assert page.has_older and not page.has_newer
    older = audit.events(audit.AuditFilters(), before=page.older_than, size=4)
    assert len(older.events) == 2 and not older.has_older and older.has_newer
    newer = audit.events(audit.AuditFilters(), after=older.newer_than, size=4)
    assert [e.id for e in newer.events] == [e.id for e in page.events]

    login(client, ManagerFactory())
    html = client.get("/dashboard/audit", query_string={"actor": "Alice"}).get_data(as_text=True)
    assert html.count("Alice Diop") >= 3 and "reject_admin</td>" not in html
    assert 'name="event"' in html
