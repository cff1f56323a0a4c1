"""Registration, email verification and password reset, with signed expiring links.

Links are itsdangerous signatures (no table): a verification link names the
user and the address it was sent to; a reset link also carries a fingerprint
of the current password hash, so it stops working once the password changed.
No answer here ever tells whether an address has an account: registering an
address that exists sends that account a reset link instead, and asking for a
reset of an unknown address sends nothing, with the same reply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..clock import now
from ..extensions import db
from ..jobs import dispatch_committed
from ..models import User
from . import notifications
from .accounts import MIN_PASSWORD_LENGTH, create_user, find_user, hash_password, normalise_email
from .errors import N_, ValidationFailed

VERIFY_MAX_AGE = 48 * 3600
RESET_MAX_AGE = 2 * 3600
_VERIFY_SALT = "verify-email"
_RESET_SALT = "password-reset"

LinkFn = Callable[[str], str]  # token -> absolute URL


class InvalidLink(ValidationFailed):
    code = "invalid_link"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def verification_token(user: User) -> str:
    return _serializer(_VERIFY_SALT).dumps({"u": user.id, "e": user.email})


def reset_token(user: User) -> str:
    return _serializer(_RESET_SALT).dumps({"u": user.id, "p": _fingerprint(user)})


def _send(kind: str, user: User, link: str, max_age: int) -> None:
    notifications.queue_account_mail(
        kind, user, {"name": user.name, "link": link, "expires_hours": max_age // 3600}
    )
    db.session.commit()
    dispatch_committed()


def register(
    email: str, name: str, password: str, language: str, verify_link: LinkFn, reset_link: LinkFn
) -> User | None:
    """A new unverified account and its verification mail; None when the address is taken.

    The caller answers the same in both cases. An existing account is sent a
    reset link, so its owner can sign in if they forgot they had registered.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            N_("the account cannot be created"),
            {"password": [f"at least {MIN_PASSWORD_LENGTH} characters"]},
        )
    existing = find_user(email)
    if existing is not None:
        if existing.active:
            _send(
                "account.password_reset", existing, reset_link(reset_token(existing)), RESET_MAX_AGE
            )
        return None
    if not name.strip():
        raise ValidationFailed(N_("the account cannot be created"), {"name": ["required"]})
    user = create_user(email, name, password, language=language, commit=False)
    db.session.flush()
    _send("account.verify_email", user, verify_link(verification_token(user)), VERIFY_MAX_AGE)
    return user


def resend_verification(email: str, verify_link: LinkFn) -> None:
    user = find_user(email)
    if user is not None and user.active and user.email_verified_at is None:
        _send("account.verify_email", user, verify_link(verification_token(user)), VERIFY_MAX_AGE)


def _load(token: str, salt: str, max_age: int) -> dict[str, object]:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidLink(N_("this link has expired; ask for a new one")) from None
    except BadSignature:
        raise InvalidLink(N_("this link is not valid; ask for a new one")) from None
    if not isinstance(data, dict):
        raise InvalidLink(N_("this link is not valid; ask for a new one"))
    return data


def verify_email(token: str) -> User:
    data = _load(token, _VERIFY_SALT, VERIFY_MAX_AGE)
    user = db.session.get(User, data.get("u"))
    if user is None or normalise_email(user.email) != data.get("e"):
        raise InvalidLink(N_("this link is not valid; ask for a new one"))
    if user.email_verified_at is None:
        user.email_verified_at = now()
        db.session.commit()
    return user


def request_password_reset(email: str, reset_link: LinkFn) -> None:
    """Mail a reset link if the address has an active account; silent either way."""
    user = find_user(email)
    if user is not None and user.active:
        _send("account.password_reset", user, reset_link(reset_token(user)), RESET_MAX_AGE)


def user_for_reset(token: str) -> User:
    data = _load(token, _RESET_SALT, RESET_MAX_AGE)
    user = db.session.get(User, data.get("u"))
    if user is None or not user.active or _fingerprint(user) != data.get("p"):
        raise InvalidLink(N_("this link is not valid any more; ask for a new one"))
    return user


def reset_password(token: str, password: str) -> User:
    """Set a new password; the link then stops working (the fingerprint changed)."""
    user = user_for_reset(token)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            N_("choose a longer password"),
            {"password": [f"at least {MIN_PASSWORD_LENGTH} characters"]},
        )
    user.password_hash = hash_password(password)
    if user.email_verified_at is None:  # the link proved the address
        user.email_verified_at = now()
    db.session.commit()
    return user


def set_language(user: User, language: str) -> None:
    if language not in ("en", "fr"):
        raise ValidationFailed(N_("unknown language"), {"language": ["en or fr"]})
    user.language = language
    db.session.commit()
