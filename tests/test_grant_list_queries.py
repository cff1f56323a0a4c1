"""The managers' grant list reads the same number of statements for one grant or many."""

from __future__ import annotations

from sqlalchemy import event, select

from grants.extensions import db
from grants.models import Grant
from grants.services.transitions import transition
from tests.factories import PASSWORD, ApplicationFactory, ManagerFactory


def _award(count: int, manager) -> None:  # type: ignore[no-untyped-def]
    for _ in range(count):
        selected = ApplicationFactory(state="provisionally_selected")
        transition(selected, "award", manager, data={"documents_verified": True})


def _statements_for(client, path: str) -> int:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def count(*args):  # type: ignore[no-untyped-def]
        seen.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_no_statement_per_grant(client, app, frozen_clock):
    manager = ManagerFactory()
    db.session.commit()
    client.post("/account/login", data={"email": manager.email, "password": PASSWORD})
    _award(1, manager)
    with_one = _statements_for(client, "/manage/grants/")
    _award(4, manager)
    assert len(db.session.scalars(select(Grant)).all()) == 5
    assert _statements_for(client, "/manage/grants/") == with_one
