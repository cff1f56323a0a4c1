"""Personal API tokens: created and revoked by their owner, stored only as a SHA-256.

A token is shown once, when it is created; the database keeps its hash (to find
it again) and its first characters (so its owner can tell tokens apart). Use is
recorded on `last_used_at` at most once per LAST_USED_RESOLUTION, so reading
the API does not cost a write on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..clock import now
from ..extensions import db
from ..models import ApiToken, User
from .errors import NotFound, ValidationFailed

TOKEN_PREFIX = "mmd_"  # noqa: S105 (a marker that says what the string is, not a secret)
PREFIX_LENGTH = 12  # what ApiToken.prefix holds: "mmd_" and 8 random characters
NAME_MAX = 100
MAX_ACTIVE_TOKENS = 20
LAST_USED_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class NewToken:
    """A token just created: `secret` is the only copy of the token there will ever be."""

    token: ApiToken
    secret: str


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def user_tokens(user: User) -> list[ApiToken]:
    """The user's tokens, active ones first, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


def create_token(user: User, name: str) -> NewToken:
    """A new token for the user, named so they recognise it later."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name the token", {"name": ["required"]})
    if len(name) > NAME_MAX:
        raise ValidationFailed(
            f"a token name has at most {NAME_MAX} characters", {"name": ["too long"]}
        )
    active = db.session.scalar(
        select(db.func.count(ApiToken.id)).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)
        )
    )
    if active >= MAX_ACTIVE_TOKENS:
        raise ValidationFailed(
            f"you have {MAX_ACTIVE_TOKENS} active tokens; revoke one first",
            {"name": ["too many active tokens"]},
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=token_hash(secret),
        prefix=secret[:PREFIX_LENGTH],
        created_at=now(),
    )
    db.session.add(token)
    db.session.commit()
    return NewToken(token, secret)


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens; revoking twice keeps the first time."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("no such token")
    if token.revoked_at is None:
        token.revoked_at = now()
        db.session.commit()
    return token


def authenticate(secret: str) -> User | None:
    """The active user a live token belongs to, or None; records the use (coarsely)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    if token is None or token.revoked_at is not None:
        return None
    user = db.session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    _record_use(token)
    return user


def _record_use(token: ApiToken) -> None:
    """Stamp last_used_at when it is older than the resolution: one write per period."""
    moment = now()
    cutoff = moment - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > cutoff:
        return
    # Conditional, so simultaneous requests write once and never move the time back.
    db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token.id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= cutoff),
        )
        .values(last_used_at=moment)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    set_committed_value(token, "last_used_at", moment)  # known, without a further write
