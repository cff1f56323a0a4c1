"""Text search over applications and organisations: the documents and their GIN indexes.

PostgreSQL only (the indexes are not created elsewhere; SQLite searches with LIKE).
A search finds its index only when it uses exactly the indexed expression, so the
expressions are built here, once, and used by the index, the migration and the
lists' search. They are written as PostgreSQL prints them back (parentheses
included), so comparing the models with the database finds no difference.

The configuration is 'simple' (lower case, no stemming, no stop words), with accents
folded by translate(): titles are in English or French, often mixed with names,
acronyms and references, which no one language's stemmer handles; every word typed
is matched as a prefix ("migra" finds migration, migrants, migratoire), and
"senegalaise" finds "Sénégalaise". translate() is built in and immutable, so no
extension (unaccent) is needed and the expression can be indexed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Index, event, func, literal_column
from sqlalchemy.engine import Engine

from .accounts import Organisation
from .applications import Application

# Accented letters and their plain forms; then word separators inside references
# ("MMD-2026-C01-0008" is four words), as the words typed are split.
ACCENTED = "àáâãäåāèéêëēìíîïīòóôõöøōùúûüūýÿçñÀÁÂÃÄÅĀÈÉÊËĒÌÍÎÏĪÒÓÔÕÖØŌÙÚÛÜŪÝŸÇÑ"
PLAIN = "aaaaaaaeeeeeiiiiiooooooouuuuuyycnAAAAAAAEEEEEIIIIIOOOOOOOUUUUUYYCN"
SEPARATORS = "-/_."
FOLD_FROM = ACCENTED + SEPARATORS
FOLD_TO = PLAIN + " " * len(SEPARATORS)
CONFIGURATION = "simple"
_FOLD = str.maketrans(ACCENTED, PLAIN)


def fold(text: str) -> str:
    """What translate() does to a document's accents, done to the words typed."""
    return text.translate(_FOLD).lower()


# SQLite has no translate(): the same folding as a function of every SQLite connection.
SQLITE_FOLD_FUNCTION = "grants_fold"


@event.listens_for(Engine, "connect")
def _register_fold(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function(
            SQLITE_FOLD_FUNCTION, 1, lambda v: None if v is None else fold(v), deterministic=True
        )


def _quoted(value: str) -> Any:
    # Literals, never bound parameters: a generic plan must still see the index's expression.
    return literal_column("'" + value.replace("'", "''") + "'")


def _document(text: Any) -> Any:
    return func.to_tsvector(
        _quoted(CONFIGURATION), func.translate(text, _quoted(FOLD_FROM), _quoted(FOLD_TO))
    )


def application_document() -> Any:
    """An application's title and reference, as indexed."""
    title = func.coalesce(Application.title, _quoted(""))
    reference = func.coalesce(Application.reference, _quoted(""))
    # Renders "(title || ' ') || reference", the parentheses PostgreSQL prints back.
    return _document(title.op("||")(_quoted(" ")).op("||")(reference))


def organisation_document() -> Any:
    """An organisation's name, as indexed."""
    return _document(Organisation.name)


def prefix_query(words: list[str]) -> Any:
    """Every word as a prefix (words are \\w+ runs, so nothing in them is an operator)."""
    return func.to_tsquery(_quoted(CONFIGURATION), " & ".join(f"{w}:*" for w in words))


APPLICATION_SEARCH_INDEX = Index(
    "ix_applications_search", application_document(), postgresql_using="gin"
).ddl_if(dialect="postgresql")
ORGANISATION_SEARCH_INDEX = Index(
    "ix_organisations_search", organisation_document(), postgresql_using="gin"
).ddl_if(dialect="postgresql")
# Expressions alone do not tell an index its table.
Application.__table__.append_constraint(APPLICATION_SEARCH_INDEX)
Organisation.__table__.append_constraint(ORGANISATION_SEARCH_INDEX)
