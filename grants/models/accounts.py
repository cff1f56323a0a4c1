"""People, organisations and who belongs where."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db
from .reference import Country

if TYPE_CHECKING:
    from .notifications import NotificationPreference

ORGANISATION_TYPES = ("cso", "local_authority", "diaspora")
MEMBERSHIP_ROLES = ("owner", "editor", "viewer")
STAFF_ROLES = ("evaluator", "programme_manager", "admin")
LANGUAGES = ("en", "fr")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("language IN ('en', 'fr')", name="language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(2), default="en")
    active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Two-factor login (TOTP, RFC 6238). The secret is stored encrypted with a key derived
    # from SECRET_KEY (see services/two_factor.py); set and not yet enrolled = enrolment
    # under way. The last accepted time step refuses a code used twice (replay).
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enrolled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    staff_roles: Mapped[list[StaffRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    # None until the user saves preferences (the defaults apply).
    notification_preference: Mapped[NotificationPreference | None] = relationship(
        cascade="all, delete-orphan"
    )

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enrolled_at is not None

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.staff_roles)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def membership_in(self, organisation_id: int) -> Membership | None:
        for m in self.memberships:
            if m.organisation_id == organisation_id:
                return m
        return None

    @property
    def label(self) -> str:
        return f"{self.name} <{self.email}>"

    def __str__(self) -> str:
        return self.name


class StaffRole(db.Model):
    __tablename__ = "staff_roles"
    __table_args__ = (
        UniqueConstraint("user_id", "role"),
        CheckConstraint("role IN ('evaluator', 'programme_manager', 'admin')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(30))
    granted_at: Mapped[datetime] = mapped_column(default=now)

    user: Mapped[User] = relationship(back_populates="staff_roles")


class RecoveryCode(db.Model):
    """A single-use two-factor recovery code, hashed like a password; shown once."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The code's first characters, in clear, so a check hashes one candidate, not ten.
    lookup: Mapped[str] = mapped_column(String(8))
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=now)
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class Organisation(db.Model):
    __tablename__ = "organisations"
    __table_args__ = (
        UniqueConstraint("country_iso2", "registration_number"),
        CheckConstraint("org_type IN ('cso', 'local_authority', 'diaspora')", name="org_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    acronym: Mapped[str | None] = mapped_column(String(40))
    org_type: Mapped[str] = mapped_column(String(20))
    country_iso2: Mapped[str] = mapped_column(ForeignKey("countries.iso2"), index=True)
    registration_number: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(500), default="")
    website: Mapped[str | None] = mapped_column(String(300))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=now)

    country: Mapped[Country] = relationship()
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )

    @property
    def label(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "organisation_id"),
        CheckConstraint("role IN ('owner', 'editor', 'viewer')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=now)

    user: Mapped[User] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship(back_populates="memberships")

    @property
    def can_edit(self) -> bool:
        return self.role in ("owner", "editor")


class ApiToken(db.Model):
    """A personal API token; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so a person can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None
