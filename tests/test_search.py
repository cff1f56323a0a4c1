"""The lists' text search: words as prefixes across title, reference, organisation and grant
number, French accents folded, kept up to date, and on PostgreSQL through its GIN index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from werkzeug.datastructures import MultiDict

from grants.extensions import db
from grants.models.search import fold, search_text, words
from grants.services import lists
from tests.factories import ApplicationFactory, GrantFactory, OrganisationFactory

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def found(spec: lists.ListSpec, typed: str) -> set[int]:
    query = lists.parse_query(spec, MultiDict({"q": typed}))
    page = lists.page(spec, query)
    assert page.total == len(page.rows)
    return {row[0].id if isinstance(row, tuple) else row.id for row in page.rows}


@pytest.fixture
def french(app):  # type: ignore[no-untyped-def]
    association = OrganisationFactory(name="Association sénégalaise pour une migration sûre")
    return {
        "kedougou": ApplicationFactory(
            organisation=association, state="submitted", submitted_at=T0, language="fr",
            title="Réintégration économique des migrants de retour à Kédougou",
            reference="MMD-2026-C01-0007"),
        "forum": ApplicationFactory(state="submitted", submitted_at=T0,
                                    title="Diaspora investment forum",
                                    reference="MMD-2026-C01-0008"),
    }


def test_folding_is_the_same_for_the_text_kept_and_the_words_typed() -> None:
    assert fold("Sénégalaise ÉCONOMIQUE Çà") == "senegalaise economique ca"
    assert words("MMD-2026-C01-0007 l'intégration_rurale") == [
        "mmd", "2026", "c01", "0007", "l", "integration", "rurale"]
    assert search_text("Réseau", None, "G-01") == "reseau g 01"


def test_accents_are_folded_both_ways(french) -> None:  # type: ignore[no-untyped-def]
    kedougou = french["kedougou"].id
    for typed in ("senegalaise", "sénégalaise", "SÉNÉGALAISE", "Kedougou", "kédou",
                  "reintegration economique", "réintég"):
        assert found(lists.APPLICATIONS, typed) == {kedougou}, typed


def test_every_word_anywhere_in_the_row(french) -> None:  # type: ignore[no-untyped-def]
    kedougou, forum = french["kedougou"].id, french["forum"].id
    assert found(lists.APPLICATIONS, "senegalaise kedougou") == {kedougou}  # organisation + title
    assert found(lists.APPLICATIONS, "MMD-2026-C01-0008") == {forum}  # a whole reference
    assert found(lists.APPLICATIONS, "0007") == {kedougou}
    assert found(lists.APPLICATIONS, "invest") == {forum}
    assert found(lists.APPLICATIONS, "forum kedougou") == set()
    assert found(lists.APPLICATIONS, "x'; --") == set()  # quotes and operators are no syntax


def test_grants_are_found_by_number_title_and_grantee(app, frozen_clock) -> None:  # type: ignore[no-untyped-def]
    grantee = OrganisationFactory(name="Coopérative des femmes de Ségou")
    grant = GrantFactory(number="MMD-2026-C02-G001", application__organisation=grantee,
                         application__title="Microcrédit pour les rapatriées")
    GrantFactory()
    for typed in ("G001", "segou", "microcredit rapatriees", "cooperative g001"):
        assert found(lists.GRANTS, typed) == {grant.id}, typed


def test_changes_are_found_once_committed(french) -> None:  # type: ignore[no-untyped-def]
    kedougou = french["kedougou"]
    kedougou.organisation.name = "Collectif des migrants de Tambacounda"
    kedougou.title = "Accueil et orientation"
    db.session.commit()
    assert found(lists.APPLICATIONS, "tambacounda accueil") == {kedougou.id}
    assert found(lists.APPLICATIONS, "senegalaise") == set()
    assert found(lists.APPLICATIONS, "reintegration") == set()


@pytest.mark.postgres
def test_postgresql_searches_through_the_gin_index(french) -> None:  # type: ignore[no-untyped-def]
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the GIN index exists on PostgreSQL only")
    query = lists.parse_query(lists.APPLICATIONS, MultiDict({"q": "senegalaise kedou"}))
    statement = lists.filtered(lists.APPLICATIONS, select(func.count(lists.Application.id)), query)
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    # A handful of rows: the planner would scan them; forbid that to see the index is usable.
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(row[0] for row in db.session.execute(text("EXPLAIN " + sql)))
    db.session.rollback()
    assert "ix_application_facts_search" in plan, plan
