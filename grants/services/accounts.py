"""Use cases about people: creating users, granting staff roles."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from ..clock import now
from ..extensions import db
from ..models import STAFF_ROLES, StaffRole, User
from . import audit
from .errors import N_, PermissionDenied, ValidationFailed

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


def set_roles(user: User, roles: list[str] | tuple[str, ...], actor: User) -> bool:
    """An administrator sets a user's staff roles; audited. Returns whether they changed.

    An administrator cannot take the administrator role from themselves, so the last
    one cannot lock everyone out. A user given a staff role is asked to set up
    two-factor login on their next page (where it is required).
    """
    if not actor.has_role("admin"):
        raise PermissionDenied(N_("administrators only"))
    wanted = sorted(set(roles))
    unknown = [r for r in wanted if r not in STAFF_ROLES]
    if unknown:
        raise ValidationFailed(
            N_("unknown role(s): %(roles)s"), {"roles": [", ".join(unknown)]},
            params={"roles": ", ".join(unknown)},
        )
    if user.id == actor.id and "admin" not in wanted:
        raise ValidationFailed(
            N_("you cannot remove your own administrator role; ask another administrator"),
            {"roles": ["admin"]},
        )
    before = sorted(user.roles)
    if before == wanted:
        return False
    kept = [r for r in user.staff_roles if r.role in wanted]
    user.staff_roles = kept + [StaffRole(role=r) for r in wanted if r not in before]
    audit.record(actor, "users", user.id, "roles_changed",
                 data={"before": before, "after": wanted})
    db.session.commit()
    return True


def list_users(search: str = "", limit: int = 50) -> list[User]:
    """Staff accounts, or the accounts whose name or address contains `search`, by name."""
    query = select(User).options(selectinload(User.staff_roles)).order_by(User.name)
    search = search.strip().lower()
    if search:
        pattern = "%" + search.replace("\\", "").replace("%", "").replace("_", "") + "%"
        query = query.where(
            func.lower(User.email).like(pattern) | func.lower(User.name).like(pattern)
        )
    else:
        query = query.where(User.staff_roles.any())
    return list(db.session.scalars(query.limit(limit)))


# --------------------------------------------------------------------------
# Login rate limit
# --------------------------------------------------------------------------

LOGIN_ATTEMPTS = 5  # failed attempts allowed per address, and per client, in the window
LOGIN_WINDOW_SECONDS = 15 * 60
CLIENT_FACTOR = 4  # an IP is shared by many people behind one gateway: give it more room

log = logging.getLogger(__name__)


class LoginThrottle:
    """Failed log-ins counted per key in a sliding window: in Redis when configured, else here.

    Keys are the (normalised) address and the client's IP, so neither guessing many
    passwords for one address nor one address per try from one client gets far. With
    REDIS_URL set every web process shares the counters (a sorted set per key, one
    member per failure, scored by its time); without it they live in this process.
    Should Redis be unreachable, the counters fall back to this process for the
    moment rather than either locking everyone out or dropping the limit.
    """

    def __init__(
        self,
        prefix: str = "login-fail",
        *,
        attempts: int = LOGIN_ATTEMPTS,
        window: int = LOGIN_WINDOW_SECONDS,
        connect: Callable[[str], Any] | None = None,
    ) -> None:
        self.prefix = prefix
        self.attempts = attempts
        self.window = window
        self._connect = connect or _connect_redis
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def _redis(self) -> Any:
        from flask import current_app

        url = current_app.config.get("REDIS_URL")
        if not url:
            return None
        client = self._clients.get(url)
        if client is None:  # one client (and its connection pool) per URL, not per call
            client = self._clients[url] = self._connect(url)
        return client

    def keys(self, email: str, client: str | None) -> list[str]:
        digest = hashlib.sha256(normalise_email(email).encode()).hexdigest()[:32]
        keys = [f"{self.prefix}:e:{digest}"]
        if client:
            keys.append(f"{self.prefix}:ip:{client}")
        return keys

    def counts(self, email: str, client: str | None) -> list[int]:
        """Failures in the window, per key (the address first)."""
        keys = self.keys(email, client)
        moment = time.time()
        server = self._redis()
        if server is not None:
            try:
                pipe = server.pipeline()  # MULTI/EXEC: trim and count in one round trip
                for key in keys:
                    pipe.zremrangebyscore(key, 0, moment - self.window)
                    pipe.zcard(key)
                answers = pipe.execute()
                return [int(n) for n in answers[1::2]]
            except RedisError as exc:
                log.warning("login throttle: Redis unreachable, counting locally: %s", exc)
        with self._lock:
            return [len(self._recent(key, moment)) for key in keys]

    def blocked(self, email: str, client: str | None) -> bool:
        counts = self.counts(email, client)
        return counts[0] >= self.attempts or (
            len(counts) > 1 and counts[1] >= self.attempts * CLIENT_FACTOR
        )

    def failed(self, email: str, client: str | None) -> None:
        keys = self.keys(email, client)
        moment = time.time()
        server = self._redis()
        if server is not None:
            try:
                pipe = server.pipeline()
                for key in keys:
                    pipe.zadd(key, {f"{moment}:{secrets.token_hex(4)}": moment})
                    pipe.expire(key, self.window)
                pipe.execute()
                return
            except RedisError as exc:
                log.warning("login throttle: Redis unreachable, counting locally: %s", exc)
        with self._lock:
            for key in keys:
                self._recent(key, moment).append(moment)

    def succeeded(self, email: str) -> None:
        """A success clears the address's count (not the client's: others share it)."""
        key = self.keys(email, None)[0]
        server = self._redis()
        if server is not None:
            try:
                server.delete(key)
            except RedisError as exc:
                log.warning("login throttle: Redis unreachable: %s", exc)
        with self._lock:
            self._failures.pop(key, None)

    def reset(self) -> None:
        """Forget every failure counted in this process (tests; Redis keys expire alone)."""
        with self._lock:
            self._failures.clear()

    def _recent(self, key: str, moment: float) -> list[float]:
        recent = [t for t in self._failures.get(key, []) if t > moment - self.window]
        self._failures[key] = recent
        return recent


def _connect_redis(url: str) -> Any:
    import redis

    # Short timeouts: a login must not hang on an unreachable Redis.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


login_throttle = LoginThrottle()
# The second step (a TOTP or recovery code), keyed by account, counted apart from passwords.
two_factor_throttle = LoginThrottle("2fa-fail")
