"""Use cases about people: creating users, granting staff roles."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Any

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


# --------------------------------------------------------------------------
# Login rate limit
# --------------------------------------------------------------------------

LOGIN_ATTEMPTS = 5  # failed attempts allowed per address, and per client, in the window
LOGIN_WINDOW_SECONDS = 15 * 60


class LoginThrottle:
    """Failed log-ins counted per key in a sliding window: in Redis when configured, else here.

    Keys are the (normalised) address and the client's IP, so neither guessing many
    passwords for one address nor one address per try from one client gets far.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def _redis(self) -> Any:
        from flask import current_app

        url = current_app.config.get("REDIS_URL")
        if not url:
            return None
        import redis

        return redis.Redis.from_url(url)

    @staticmethod
    def keys(email: str, client: str | None) -> list[str]:
        digest = hashlib.sha256(normalise_email(email).encode()).hexdigest()[:32]
        keys = [f"login-fail:e:{digest}"]
        if client:
            keys.append(f"login-fail:ip:{client}")
        return keys

    def blocked(self, email: str, client: str | None) -> bool:
        keys = self.keys(email, client)
        limit = LOGIN_ATTEMPTS
        server = self._redis()
        moment = time.time()
        if server is not None:
            for key in keys:
                server.zremrangebyscore(key, 0, moment - LOGIN_WINDOW_SECONDS)
            counts = [server.zcard(key) for key in keys]
        else:
            with self._lock:
                counts = [len(self._recent(key, moment)) for key in keys]
        # An IP is shared by many people behind one gateway: give it more room.
        return counts[0] >= limit or (len(counts) > 1 and counts[1] >= limit * 4)

    def failed(self, email: str, client: str | None) -> None:
        server = self._redis()
        moment = time.time()
        for key in self.keys(email, client):
            if server is not None:
                server.zadd(key, {f"{moment}:{secrets.token_hex(4)}": moment})
                server.expire(key, LOGIN_WINDOW_SECONDS)
            else:
                with self._lock:
                    self._recent(key, moment).append(moment)

    def succeeded(self, email: str) -> None:
        key = self.keys(email, None)[0]
        server = self._redis()
        if server is not None:
            server.delete(key)
        else:
            with self._lock:
                self._failures.pop(key, None)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()

    def _recent(self, key: str, moment: float) -> list[float]:
        recent = [t for t in self._failures.get(key, []) if t > moment - LOGIN_WINDOW_SECONDS]
        self._failures[key] = recent
        return recent


login_throttle = LoginThrottle()
