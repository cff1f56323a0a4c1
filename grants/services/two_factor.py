"""Two-factor login: TOTP (RFC 6238) enrolment and checks, single-use recovery codes,
and the administrator's reset.

Codes are checked against the real time (an authenticator app knows nothing of the
application's movable clock), one step either side for clock drift; the last accepted
step is kept on the user, so a code cannot be used twice (replay), nor an older one.

The TOTP secret is stored encrypted with a key derived from SECRET_KEY: a copy of the
database alone (a backup, a dump) does not give anyone the second factor. The
construction uses the standard library only: HMAC-SHA256 in counter mode as the key
stream, a random nonce, and an HMAC-SHA256 tag over nonce and ciphertext
(encrypt-then-MAC), under two keys derived from SECRET_KEY for these two purposes.
Changing SECRET_KEY therefore turns every enrolment unreadable: the user is then asked
to enrol again by an administrator's reset.

Recovery codes are random (50 bits), shown once, and stored as password hashes; their
first characters are kept in clear so one check hashes one candidate, not ten.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any

import pyotp
import segno
from flask import current_app
from markupsafe import Markup
from sqlalchemy import delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from ..clock import now
from ..extensions import db
from ..models import User
from ..models.accounts import STAFF_ROLES, RecoveryCode
from . import audit
from .actors import SystemActor
from .errors import N_, PermissionDenied, ValidationFailed

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1  # a code of the previous or the next step is accepted too
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed
RECOVERY_LENGTH = 10
LOOKUP_LENGTH = 3
# Recovery codes carry 50 random bits: a lighter scrypt than passwords' is enough.
_RECOVERY_HASH = "scrypt:4096:8:1"
_SEALED_PREFIX = "v1:"

MAIL_TWO_FACTOR_OFF = "account.two_factor_off"
MAIL_RECOVERY_CODE_USED = "account.recovery_code_used"


class SecretUnreadable(RuntimeError):
    """The stored secret does not open with this SECRET_KEY (changed, or the row altered)."""


# --------------------------------------------------------------------------
# Who needs it
# --------------------------------------------------------------------------


def required_for(user: User) -> bool:
    """Staff (evaluators, programme managers, administrators) must use two-factor login."""
    if not current_app.config.get("TWO_FACTOR_REQUIRED", True):
        return False
    return bool(user.roles & set(STAFF_ROLES))


def missing(user: User) -> bool:
    """Staff who must use two-factor login and have not set it up (or had it reset)."""
    return not user.two_factor_enabled and required_for(user)


def needed(user: User) -> bool:
    """Whether a login of this user takes a second step (a code, or enrolment first)."""
    return user.two_factor_enabled or required_for(user)


# --------------------------------------------------------------------------
# The secret at rest
# --------------------------------------------------------------------------


def _key(purpose: bytes) -> bytes:
    secret_key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret_key, b"grants/two-factor/" + purpose, hashlib.sha256).digest()


def _keystream(nonce: bytes, length: int) -> bytes:
    key = _key(b"encrypt")
    blocks = []
    for counter in range((length + 31) // 32):
        blocks.append(hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest())
    return b"".join(blocks)[:length]


def seal_secret(secret: str) -> str:
    """The secret encrypted and authenticated, as text for the database."""
    nonce = secrets.token_bytes(16)
    plain = secret.encode()
    cipher = bytes(a ^ b for a, b in zip(plain, _keystream(nonce, len(plain)), strict=True))
    tag = hmac.new(_key(b"mac"), nonce + cipher, hashlib.sha256).digest()[:16]
    return _SEALED_PREFIX + base64.urlsafe_b64encode(nonce + cipher + tag).decode()


def open_secret(sealed: str) -> str:
    if not sealed.startswith(_SEALED_PREFIX):
        raise SecretUnreadable("unknown format")
    try:
        raw = base64.urlsafe_b64decode(sealed.removeprefix(_SEALED_PREFIX).encode())
    except ValueError:
        raise SecretUnreadable("not base64") from None
    nonce, cipher, tag = raw[:16], raw[16:-16], raw[-16:]
    expected = hmac.new(_key(b"mac"), nonce + cipher, hashlib.sha256).digest()[:16]
    if len(raw) < 33 or not hmac.compare_digest(tag, expected):
        raise SecretUnreadable("the tag does not match")
    stream = _keystream(nonce, len(cipher))
    return bytes(a ^ b for a, b in zip(cipher, stream, strict=True)).decode()


# --------------------------------------------------------------------------
# Enrolment
# --------------------------------------------------------------------------


def pending_secret(user: User) -> str:
    """The secret being enrolled, created on first call and kept until confirmed."""
    if user.two_factor_enabled:
        raise ValidationFailed(N_("two-factor login is already on for this account"))
    if user.totp_secret is not None:
        try:
            return open_secret(user.totp_secret)
        except SecretUnreadable:
            pass  # a secret sealed under another key: start afresh
    secret = pyotp.random_base32()
    user.totp_secret = seal_secret(secret)
    db.session.commit()
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    issuer = current_app.config.get("PROGRAMME_NAME", "Grants")
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=issuer
    )


def qr_svg(uri: str, title: str = "QR code") -> Markup:
    """The QR code as inline SVG, drawn here: no script, no outside service."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=4, title=title)  # escaped
    # segno's own markup: the title (escaped by segno) and the path of the modules.
    return Markup(svg)  # noqa: S704


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn two-factor login on once a first code matches; the recovery codes, shown once."""
    if user.two_factor_enabled:
        raise ValidationFailed(N_("two-factor login is already on for this account"))
    if user.totp_secret is None:
        raise ValidationFailed(N_("start the enrolment again: no key is waiting"))
    step = _matching_step(open_secret(user.totp_secret), code, None)
    if step is None:
        raise ValidationFailed(
            N_("this code does not match: check the time on your phone and type the code "
               "it shows now"),
            {"code": [N_("the code does not match")]},
        )
    user.totp_enrolled_at = now()
    user.totp_last_step = step
    codes = _new_recovery_codes(user)
    _audit(user, user, "two_factor_enrolled", {})
    db.session.commit()
    return codes


# --------------------------------------------------------------------------
# Checks at login and re-authentication
# --------------------------------------------------------------------------


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _current_step() -> int:
    return int(time.time()) // STEP_SECONDS


def _matching_step(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step whose code this is, if within the drift and after the last used one."""
    code = _normalise(code)
    if len(code) != DIGITS or not code.isdigit():
        return None
    hotp = pyotp.HOTP(secret, digits=DIGITS)
    current = _current_step()
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue  # used already, or older than a code already used: a replay
        if hmac.compare_digest(hotp.at(step), code):
            return step
    return None


def check_code(user: User, code: str) -> str | None:
    """Check a second factor: 'totp' or 'recovery' when accepted, None otherwise.

    An accepted TOTP code's step is recorded (the same code is refused afterwards); an
    accepted recovery code is spent, audited, and the owner told by mail.
    """
    if not user.two_factor_enabled or user.totp_secret is None:
        return None
    normalised = _normalise(code)
    if normalised.isdigit():
        try:
            secret = open_secret(user.totp_secret)
        except SecretUnreadable:
            return None
        step = _matching_step(secret, normalised, user.totp_last_step)
        if step is None or not _claim_step(user, step):
            return None
        return "totp"
    if _spend_recovery_code(user, normalised):
        return "recovery"
    return None


def _spend_recovery_code(user: User, normalised: str) -> bool:
    if len(normalised) != RECOVERY_LENGTH:
        return False
    candidates = list(db.session.scalars(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.lookup == normalised[:LOOKUP_LENGTH],
            RecoveryCode.used_at.is_(None),
        )
    ))
    for candidate in candidates:
        if check_password_hash(candidate.code_hash, normalised):
            # Spent only if still unspent: two logins racing with one code, one wins.
            spent = db.session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == candidate.id, RecoveryCode.used_at.is_(None))
                .values(used_at=now())
                .execution_options(synchronize_session=False)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                db.session.rollback()
                return False
            left = remaining_recovery_codes(user)
            _audit(user, user, "recovery_code_used", {"remaining": left})
            _mail(user, MAIL_RECOVERY_CODE_USED, {"remaining": left})
            db.session.commit()
            _dispatch()
            return True
    return False


def _claim_step(user: User, step: int) -> bool:
    """Record the step as used, only if no later or equal one was: a code accepted by two
    processes at once (the same code replayed in parallel) is accepted once."""
    claimed = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(user, ["totp_last_step"])
    return claimed.rowcount == 1  # type: ignore[attr-defined, no-any-return]


# --------------------------------------------------------------------------
# Recovery codes
# --------------------------------------------------------------------------


def _format(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def _new_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes replace any earlier ones; the caller commits."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        code = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        db.session.add(
            RecoveryCode(
                user_id=user.id,
                lookup=code[:LOOKUP_LENGTH],
                code_hash=generate_password_hash(code, method=_RECOVERY_HASH),
                created_at=now(),
            )
        )
        codes.append(_format(code))
    db.session.expire(user, ["recovery_codes"])
    return codes


def regenerate_recovery_codes(user: User) -> list[str]:
    if not user.two_factor_enabled:
        raise ValidationFailed(N_("turn two-factor login on first"))
    codes = _new_recovery_codes(user)
    _audit(user, user, "recovery_codes_renewed", {})
    db.session.commit()
    return codes


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    ) or 0


# --------------------------------------------------------------------------
# Turning it off
# --------------------------------------------------------------------------


def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.expire(user, ["recovery_codes"])


def disable(user: User) -> None:
    """The user turns their own two-factor login off; refused where it is required."""
    if not user.two_factor_enabled:
        raise ValidationFailed(N_("two-factor login is not on for this account"))
    if required_for(user):
        raise PermissionDenied(N_("two-factor login is required for staff accounts"))
    _clear(user)
    _audit(user, user, "two_factor_disabled", {})
    _mail(user, MAIL_TWO_FACTOR_OFF, {"by_admin": False})
    db.session.commit()
    _dispatch()


def reset(user: User, admin: User | SystemActor) -> None:
    """An administrator turns a user's two-factor login off (a lost phone and codes).

    A staff member then enrols again at their next login. The command line resets too
    (`SystemActor("command line")`): the way back for the last administrator.
    """
    if isinstance(admin, User) and not admin.has_role("admin"):
        raise PermissionDenied(N_("administrators only"))
    if not user.two_factor_enabled and user.totp_secret is None:
        raise ValidationFailed(N_("two-factor login is not on for this account"))
    _clear(user)
    _audit(admin, user, "two_factor_reset", {})
    _mail(user, MAIL_TWO_FACTOR_OFF, {"by_admin": True})
    db.session.commit()
    _dispatch()


# --------------------------------------------------------------------------
# Audit and mail
# --------------------------------------------------------------------------


def _audit(actor: User | SystemActor, user: User, event: str, data: dict[str, Any]) -> None:
    audit.record(actor, "users", user.id, event, data=data)


def _mail(user: User, kind: str, context: dict[str, Any]) -> None:
    # Security notices: account mail, sent at once whatever the user's preferences.
    from .notifications import queue_account_mail

    queue_account_mail(kind, user, context)


def _dispatch() -> None:
    from ..jobs import dispatch_committed

    dispatch_committed()
