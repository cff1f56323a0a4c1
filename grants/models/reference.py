"""Reference data: the dialogues, the JVAP domains and the MMD partner countries."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class Dialogue(db.Model):
    __tablename__ = "dialogues"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    full_name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(400))

    def __str__(self) -> str:
        return self.name


class JvapDomain(db.Model):
    """One of the five domains of the Joint Valletta Action Plan."""

    __tablename__ = "jvap_domains"

    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))

    def __str__(self) -> str:
        return f"{self.number}. {self.title}"


class Country(db.Model):
    """An MMD partner country, with its AU/EU membership and place in each dialogue."""

    __tablename__ = "countries"
    __table_args__ = (
        CheckConstraint("rabat_role IN ('partner', 'observer')", name="rabat_role"),
        CheckConstraint("khartoum_role IN ('member')", name="khartoum_role"),
    )

    iso2: Mapped[str] = mapped_column(String(2), primary_key=True)
    iso3: Mapped[str] = mapped_column(String(3), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(40))
    au_member: Mapped[bool]
    eu_member: Mapped[bool]
    rabat_role: Mapped[str | None] = mapped_column(String(10))
    khartoum_role: Mapped[str | None] = mapped_column(String(10))
    c2cmmd: Mapped[bool]

    def in_dialogue(self, code: str) -> bool:
        return {
            "rabat": self.rabat_role is not None,
            "khartoum": self.khartoum_role is not None,
            "c2cmmd": self.c2cmmd,
        }.get(code, False)

    def __str__(self) -> str:
        return self.name
