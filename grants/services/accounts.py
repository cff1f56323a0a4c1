"""Use cases about people: creating users, granting staff roles."""

from __future__ import annotations

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..clock import now
from ..extensions import db
from ..models import STAFF_ROLES, StaffRole, User
from .errors import ValidationFailed

MIN_PASSWORD_LENGTH = 10


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    # scrypt: memory-hard, the current default of werkzeug.
    return generate_password_hash(password, method="scrypt")


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def create_user(
    email: str,
    name: str,
    password: str,
    *,
    roles: tuple[str, ...] = (),
    language: str = "en",
    verified: bool = False,
    commit: bool = True,
) -> User:
    errors: dict[str, list[str]] = {}
    email = normalise_email(email)
    if "@" not in email:
        errors["email"] = ["not an email address"]
    elif find_user(email) is not None:
        errors["email"] = ["an account with this email exists"]
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"at least {MIN_PASSWORD_LENGTH} characters"]
    unknown = [r for r in roles if r not in STAFF_ROLES]
    if unknown:
        errors["roles"] = [f"unknown role(s): {', '.join(unknown)}"]
    if language not in ("en", "fr"):
        errors["language"] = ["en or fr"]
    if errors:
        raise ValidationFailed("the user cannot be created", errors)
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        language=language,
        email_verified_at=now() if verified else None,
    )
    user.staff_roles = [StaffRole(role=r) for r in roles]
    db.session.add(user)
    if commit:
        db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user with this email and password, or None; same work either way."""
    user = find_user(email)
    if user is None:
        # Hash anyway so the answer takes as long whether or not the account exists.
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")
