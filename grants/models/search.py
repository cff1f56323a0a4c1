"""Text search: how texts are folded, and the PostgreSQL document the GIN index holds.

Each application's searchable text (title, reference, applicant organisation's name,
grant number) is kept, folded, in `application_facts.search_text` by the same hook
that keeps the dashboard's facts, so a search is one GIN index lookup with every word
(no organisation joined per row, no expression computed again per row). The index is
on `to_tsvector('simple', search_text)`: the search must use exactly that expression
(`facts_document`) for the planner to use it.

The configuration is 'simple' (lower case, no stemming, no stop words) with accents
folded: titles are in English or French, often mixed with names, acronyms and
references, which no one language's stemmer handles; every word typed is matched as
a prefix ("migra" finds migration, migrants, migratoire), and "senegalaise" finds
"Sénégalaise". Folding is done in Python (`fold`), the same for the text kept and
the words typed, so no extension (unaccent) is needed. SQLite searches the source
columns with LIKE, through the same folding registered as a SQL function.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from typing import Any

from sqlalchemy import event, func, literal_column
from sqlalchemy.engine import Engine

CONFIGURATION = "simple"
# Word separators inside references ("MMD-2026-C01-0008" is four words).
_SEPARATORS = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Lower case, accents removed ("Sénégalaise" -> "senegalaise"); "œ" stays."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of a text (separators, "_" included, split words)."""
    return [w for w in _SEPARATORS.split(fold(text)) if w]


def search_text(*parts: str | None) -> str:
    """What is kept to search an application: its folded words, space separated."""
    return " ".join(w for part in parts if part for w in words(part))


# SQLite: the same folding as a function of every SQLite connection.
SQLITE_FOLD_FUNCTION = "grants_fold"


@event.listens_for(Engine, "connect")
def _register_fold(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function(
            SQLITE_FOLD_FUNCTION, 1, lambda v: None if v is None else fold(v), deterministic=True
        )


def _quoted(value: str) -> Any:
    # A literal, never a bound parameter: a generic plan must still see the index's expression.
    return literal_column("'" + value.replace("'", "''") + "'")


def document(search_text_column: Any) -> Any:
    """The indexed expression over application_facts.search_text."""
    return func.to_tsvector(_quoted(CONFIGURATION), search_text_column)


def prefix_query(typed: list[str]) -> Any:
    """Every word as a prefix, all required (words are \\w runs: no operator in them)."""
    return func.to_tsquery(_quoted(CONFIGURATION), " & ".join(f"{w}:*" for w in typed))
