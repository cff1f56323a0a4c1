"""Loading the reference data (dialogues, JVAP domains, partner countries); idempotent."""

from __future__ import annotations

import csv
from pathlib import Path

from ..extensions import db
from ..models import Country, Dialogue, JvapDomain

DATA = Path(__file__).resolve().parent.parent / "data"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_reference_data() -> dict[str, int]:
    """Insert or update every reference row; running it twice changes nothing."""
    for row in _rows("dialogues.csv"):
        db.session.merge(
            Dialogue(
                code=row["code"], name=row["name"], full_name=row["full_name"], scope=row["scope"]
            )
        )
    for row in _rows("jvap_domains.csv"):
        db.session.merge(
            JvapDomain(number=int(row["number"]), code=row["code"], title=row["title"])
        )
    for row in _rows("partner_countries.csv"):
        db.session.merge(
            Country(
                iso2=row["iso2"],
                iso3=row["iso3"],
                name=row["name"],
                region=row["region"],
                au_member=row["au_member"] == "yes",
                eu_member=row["eu_member"] == "yes",
                rabat_role=row["rabat_process"] or None,
                khartoum_role=row["khartoum_process"] or None,
                c2cmmd=row["c2cmmd"] == "yes",
            )
        )
    db.session.commit()
    return {
        "dialogues": db.session.query(Dialogue).count(),
        "jvap_domains": db.session.query(JvapDomain).count(),
        "countries": db.session.query(Country).count(),
    }
