"""Applicant organisations: creation with duplicate detection, members and invitations.

An organisation is known by its country and legal registration number (unique
together). A near-identical name in the same country is also taken as a likely
duplicate: the person is pointed to joining the existing organisation instead.
Invitations are signed, expiring links (no table): accepting one with the
invited email address makes the person a member with the invited role.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import MEMBERSHIP_ROLES, ORGANISATION_TYPES, Country, Membership, Organisation, User
from .accounts import normalise_email
from .actors import Actor
from .errors import N_, NotFound, PermissionDenied, ValidationFailed

INVITATION_MAX_AGE = 14 * 24 * 3600  # seconds an invitation link stays valid
NAME_SIMILARITY = 0.9  # ratio above which two names in one country are "near-identical"
_INVITE_SALT = "organisation-invitation"

# Words that do not distinguish one organisation's name from another's.
_NOISE = {
    "the",
    "of",
    "for",
    "and",
    "de",
    "des",
    "du",
    "la",
    "le",
    "les",
    "pour",
    "et",
    "l",
    "d",
    "association",
    "organisation",
    "organization",
    "ong",
    "ngo",
    "asbl",
}


class DuplicateOrganisation(ValidationFailed):
    """The organisation seems to exist already: join it instead of creating a copy."""

    code = "duplicate_organisation"
    status = 409

    def __init__(self, matches: list[Organisation], exact: bool):
        super().__init__(
            N_(
                "this organisation seems to be registered already; ask one of its owners to "
                "invite you instead of creating it again"
            ),
            {"registration_number" if exact else "name": [N_("already registered")]},
        )
        self.matches = matches
        self.exact = exact


def normalised_name(name: str) -> str:
    """Lower case, no accents, no punctuation, no filler words: what names are compared on."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = [w for w in re.split(r"[^a-z0-9]+", text) if w and w not in _NOISE]
    return " ".join(words)


def _normalised_registration(number: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", number).upper()


def find_duplicates(
    name: str, country_iso2: str, registration_number: str
) -> tuple[list[Organisation], bool]:
    """Organisations this one would duplicate, and whether the match is on the registration."""
    same_country = list(
        db.session.scalars(select(Organisation).where(Organisation.country_iso2 == country_iso2))
    )
    wanted = _normalised_registration(registration_number)
    exact = [o for o in same_country if _normalised_registration(o.registration_number) == wanted]
    if exact:
        return exact, True
    target = normalised_name(name)
    similar = [
        o
        for o in same_country
        if target
        and SequenceMatcher(None, target, normalised_name(o.name)).ratio() >= NAME_SIMILARITY
    ]
    return similar, False


@dataclass
class OrganisationData:
    name: str
    org_type: str
    country_iso2: str
    registration_number: str
    address: str = ""
    acronym: str | None = None
    website: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


def _validate(data: OrganisationData) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not data.name.strip():
        errors["name"] = ["required"]
    if data.org_type not in ORGANISATION_TYPES:
        errors["org_type"] = ["choose a listed type"]
    if db.session.get(Country, data.country_iso2 or "") is None:
        errors["country_iso2"] = ["choose a listed country"]
    if not _normalised_registration(data.registration_number):
        errors["registration_number"] = ["required"]
    if data.website and not re.match(r"^https?://[^\s/]+\.[^\s]+$", data.website):
        errors["website"] = [N_("a web address starting with http:// or https://")]
    if data.contact_email and "@" not in data.contact_email:
        errors["contact_email"] = [N_("not an email address")]
    return errors


def create_organisation(actor: User, data: OrganisationData) -> Organisation:
    """Register an organisation with `actor` as its first owner; refuses likely duplicates."""
    errors = _validate(data)
    if errors:
        raise ValidationFailed(N_("the organisation cannot be created"), errors)
    matches, exact = find_duplicates(data.name, data.country_iso2, data.registration_number)
    if matches:
        raise DuplicateOrganisation(matches, exact)
    organisation = Organisation(
        name=data.name.strip(),
        acronym=(data.acronym or "").strip() or None,
        org_type=data.org_type,
        country_iso2=data.country_iso2,
        registration_number=data.registration_number.strip(),
        address=data.address.strip(),
        website=(data.website or "").strip() or None,
        contact_email=(data.contact_email or "").strip() or None,
        contact_phone=(data.contact_phone or "").strip() or None,
    )
    organisation.memberships.append(Membership(user=actor, role="owner"))
    db.session.add(organisation)
    try:
        db.session.commit()
    except IntegrityError:  # registered by someone else a moment ago
        db.session.rollback()
        matches, _ = find_duplicates(data.name, data.country_iso2, data.registration_number)
        raise DuplicateOrganisation(matches, True) from None
    return organisation


def organisation_for(
    actor: Actor, organisation_id: int, *, roles: tuple[str, ...] = MEMBERSHIP_ROLES
) -> Organisation:
    """The organisation if the actor is a member with one of `roles`; 404 for outsiders."""
    if not isinstance(actor, User):
        raise NotFound(N_("no such organisation"))
    membership = actor.membership_in(organisation_id)
    if membership is None:
        raise NotFound(N_("no such organisation"))
    if membership.role not in roles:
        if roles == ("owner",):
            raise PermissionDenied(N_("only owners of the organisation may do this"))
        raise PermissionDenied(
            N_("only %(roles)s of the organisation may do this"),
            params={"roles": " or ".join(f"{role}s" for role in roles)},
        )
    return membership.organisation


def members(actor: User, organisation_id: int) -> list[Membership]:
    organisation_for(actor, organisation_id)
    return list(
        db.session.scalars(
            select(Membership)
            .where(Membership.organisation_id == organisation_id)
            .order_by(Membership.id)
        )
    )


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_INVITE_SALT)


def invitation_token(actor: User, organisation_id: int, email: str, role: str) -> str:
    """A signed invitation for `email` to join as `role`; owners only."""
    organisation = organisation_for(actor, organisation_id, roles=("owner",))
    email = normalise_email(email)
    errors: dict[str, list[str]] = {}
    if "@" not in email:
        errors["email"] = [N_("not an email address")]
    if role not in MEMBERSHIP_ROLES:
        errors["role"] = [N_("owner, editor or viewer")]
    if errors:
        raise ValidationFailed(N_("the invitation cannot be sent"), errors)
    return _serializer().dumps({"o": organisation.id, "e": email, "r": role, "by": actor.id})


def read_invitation(token: str) -> dict[str, Any]:
    try:
        data = _serializer().loads(token, max_age=INVITATION_MAX_AGE)
    except SignatureExpired:
        raise ValidationFailed(N_("this invitation has expired; ask for a new one")) from None
    except BadSignature:
        raise NotFound(N_("no such invitation")) from None
    organisation = db.session.get(Organisation, data["o"])
    if organisation is None:
        raise NotFound(N_("no such invitation"))
    return {"organisation": organisation, "email": data["e"], "role": data["r"]}


def accept_invitation(actor: User, token: str) -> Membership:
    """Join the organisation of the invitation; the signed-in address must be the invited one."""
    invitation = read_invitation(token)
    if normalise_email(actor.email) != invitation["email"]:
        raise PermissionDenied(
            N_("this invitation was sent to another email address; sign in with that address")
        )
    organisation: Organisation = invitation["organisation"]
    membership = actor.membership_in(organisation.id)
    if membership is not None:
        return membership
    membership = Membership(user=actor, organisation=organisation, role=invitation["role"])
    db.session.add(membership)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        found = db.session.scalar(
            select(Membership).where(
                Membership.user_id == actor.id, Membership.organisation_id == organisation.id
            )
        )
        if found is None:
            raise
        return found
    return membership


def change_role(actor: User, organisation_id: int, membership_id: int, role: str) -> Membership:
    """Owners change a member's role; an organisation always keeps at least one owner."""
    organisation_for(actor, organisation_id, roles=("owner",))
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.organisation_id != organisation_id:
        raise NotFound(N_("no such member"))
    if role not in MEMBERSHIP_ROLES:
        raise ValidationFailed(N_("unknown role"), {"role": [N_("owner, editor or viewer")]})
    if membership.role == "owner" and role != "owner" and _owner_count(organisation_id) <= 1:
        raise ValidationFailed(
            N_("an organisation needs at least one owner"), {"role": [N_("last owner")]}
        )
    membership.role = role
    db.session.commit()
    return membership


def _owner_count(organisation_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count(Membership.id)).where(
                Membership.organisation_id == organisation_id, Membership.role == "owner"
            )
        )
        or 0
    )


def send_invitation(
    actor: User, organisation: Organisation, email: str, role: str, link: str
) -> None:
    """Mail the invitation link through the outbox, so it is never lost nor sent twice."""
    from ..jobs import dispatch_committed
    from . import notifications

    organisation_for(actor, organisation.id, roles=("owner",))
    notifications.queue_invitation_mail(
        normalise_email(email),
        actor.language,
        {
            "organisation_id": organisation.id,
            "organisation": organisation.name,
            "role": role,
            "link": link,
            "inviter": actor.name,
            "days": INVITATION_MAX_AGE // 86400,
        },
    )
    db.session.commit()
    dispatch_committed()
