"""Eligibility of applicants and proposals against a call's rules.

Pure rules: no database, no web layer. A call stores its rules as data
(``CallRules.to_dict()`` in a JSON column); the checks take the rules and a
proposal as plain values and return every failing rule, in a stable order,
each with a stable code, the figures involved, a plain-English message and
a suggested fix. A draft proposal may have missing fields: they are reported
as failures, never raised.
"""

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from typing import Any

CSO = "cso"
LOCAL_AUTHORITY = "local_authority"
DIASPORA = "diaspora"
APPLICANT_TYPES: frozenset[str] = frozenset({CSO, LOCAL_AUTHORITY, DIASPORA})

APPLICANT_TYPE_LABELS: dict[str, str] = {
    CSO: "civil society organisation",
    LOCAL_AUTHORITY: "local authority",
    DIASPORA: "diaspora organisation",
}

LEAD = "lead"
CO_APPLICANT = "co_applicant"
APPLICANT = "applicant"  # a visitor checking eligibility before registering

CENT = Decimal("0.01")


# --------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CallRules:
    """The eligibility rules of one call for proposals."""

    grant_min: Decimal
    grant_max: Decimal
    # Share of the total eligible cost the grant may cover; 1 = no co-financing.
    max_funding_rate: Decimal
    duration_min_months: int
    duration_max_months: int
    max_countries: int
    # At least one country of implementation is an African Union member state.
    require_au_country: bool
    # A lead based in an EU member state needs a co-applicant based in an AU
    # member state, unless the lead is a diaspora organisation.
    eu_lead_needs_au_co_applicant: bool
    max_co_applicants: int
    eligible_applicant_types: frozenset[str]
    # ISO 3166 alpha-2 codes where applicants must be based; None = anywhere.
    eligible_countries: frozenset[str] | None
    require_jvap_domain: bool
    require_dialogue: bool
    mandatory_attachments: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("grant_min", "grant_max", "max_funding_rate"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ValueError(f"{name} must be a finite Decimal, got {value!r}")
        for name in (
            "duration_min_months",
            "duration_max_months",
            "max_countries",
            "max_co_applicants",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        for name in (
            "require_au_country",
            "eu_lead_needs_au_co_applicant",
            "require_jvap_domain",
            "require_dialogue",
        ):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, got {value!r}")

        if self.grant_min <= 0:
            raise ValueError(f"grant_min must be positive, got {self.grant_min}")
        if self.grant_max < self.grant_min:
            raise ValueError(
                f"grant_max ({self.grant_max}) must not be below grant_min ({self.grant_min})"
            )
        if not Decimal(0) < self.max_funding_rate <= 1:
            raise ValueError(
                f"max_funding_rate must be above 0 and at most 1, got {self.max_funding_rate}"
            )
        if self.duration_min_months < 1:
            raise ValueError(
                f"duration_min_months must be at least 1, got {self.duration_min_months}"
            )
        if self.duration_max_months < self.duration_min_months:
            raise ValueError(
                f"duration_max_months ({self.duration_max_months}) must not be below "
                f"duration_min_months ({self.duration_min_months})"
            )
        if self.max_countries < 1:
            raise ValueError(f"max_countries must be at least 1, got {self.max_countries}")
        if self.max_co_applicants < 0:
            raise ValueError(
                f"max_co_applicants must not be negative, got {self.max_co_applicants}"
            )

        if not isinstance(self.eligible_applicant_types, frozenset):
            raise ValueError("eligible_applicant_types must be a frozenset")
        if not self.eligible_applicant_types:
            raise ValueError("eligible_applicant_types must name at least one type")
        unknown = sorted(str(t) for t in self.eligible_applicant_types - APPLICANT_TYPES)
        if unknown:
            raise ValueError(
                f"unknown applicant types {unknown}; known types are {sorted(APPLICANT_TYPES)}"
            )

        if self.eligible_countries is not None:
            if not isinstance(self.eligible_countries, frozenset):
                raise ValueError("eligible_countries must be a frozenset or None")
            if not self.eligible_countries:
                raise ValueError(
                    "eligible_countries must not be empty; use None to accept any country"
                )
            bad = sorted(repr(c) for c in self.eligible_countries if not _is_iso2(c))
            if bad:
                raise ValueError(
                    f"eligible_countries must be upper-case ISO 3166 alpha-2 codes; "
                    f"got {', '.join(bad)}"
                )

        if not isinstance(self.mandatory_attachments, tuple):
            raise ValueError("mandatory_attachments must be a tuple")
        for kind in self.mandatory_attachments:
            if not isinstance(kind, str) or not kind.strip():
                raise ValueError(f"mandatory_attachments must be non-empty strings, got {kind!r}")
        if len(set(self.mandatory_attachments)) != len(self.mandatory_attachments):
            raise ValueError("mandatory_attachments must not repeat a kind")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (Decimals as strings, sets as sorted lists)."""
        return {
            "grant_min": str(self.grant_min),
            "grant_max": str(self.grant_max),
            "max_funding_rate": str(self.max_funding_rate),
            "duration_min_months": self.duration_min_months,
            "duration_max_months": self.duration_max_months,
            "max_countries": self.max_countries,
            "require_au_country": self.require_au_country,
            "eu_lead_needs_au_co_applicant": self.eu_lead_needs_au_co_applicant,
            "max_co_applicants": self.max_co_applicants,
            "eligible_applicant_types": sorted(self.eligible_applicant_types),
            "eligible_countries": (
                None if self.eligible_countries is None else sorted(self.eligible_countries)
            ),
            "require_jvap_domain": self.require_jvap_domain,
            "require_dialogue": self.require_dialogue,
            "mandatory_attachments": list(self.mandatory_attachments),
        }

    @classmethod
    def from_dict(cls, data: Any) -> "CallRules":
        """Parse and validate the output of ``to_dict``; ValueError on bad data."""
        if not isinstance(data, dict):
            raise ValueError(f"call rules must be a JSON object, got {type(data).__name__}")
        expected = set(_FIELD_NAMES)
        unknown = sorted(str(k) for k in data if k not in expected)
        if unknown:
            raise ValueError(f"unknown keys in call rules: {', '.join(unknown)}")
        missing = [name for name in _FIELD_NAMES if name not in data]
        if missing:
            raise ValueError(f"missing keys in call rules: {', '.join(missing)}")

        countries = data["eligible_countries"]
        return cls(
            grant_min=_parse_decimal("grant_min", data["grant_min"]),
            grant_max=_parse_decimal("grant_max", data["grant_max"]),
            max_funding_rate=_parse_decimal("max_funding_rate", data["max_funding_rate"]),
            duration_min_months=_parse_int("duration_min_months", data["duration_min_months"]),
            duration_max_months=_parse_int("duration_max_months", data["duration_max_months"]),
            max_countries=_parse_int("max_countries", data["max_countries"]),
            require_au_country=_parse_bool("require_au_country", data["require_au_country"]),
            eu_lead_needs_au_co_applicant=_parse_bool(
                "eu_lead_needs_au_co_applicant", data["eu_lead_needs_au_co_applicant"]
            ),
            max_co_applicants=_parse_int("max_co_applicants", data["max_co_applicants"]),
            eligible_applicant_types=frozenset(
                _parse_str_list("eligible_applicant_types", data["eligible_applicant_types"])
            ),
            eligible_countries=(
                None
                if countries is None
                else frozenset(_parse_str_list("eligible_countries", countries))
            ),
            require_jvap_domain=_parse_bool("require_jvap_domain", data["require_jvap_domain"]),
            require_dialogue=_parse_bool("require_dialogue", data["require_dialogue"]),
            mandatory_attachments=tuple(
                _parse_str_list("mandatory_attachments", data["mandatory_attachments"])
            ),
        )

    @classmethod
    def mmd_second_call(cls) -> "CallRules":
        """Rules of the second call of the MMD Grant Facility.

        Taken from the call: grants of EUR 100,000 to 150,000; 6 months of
        implementation; at most 3 countries of implementation, at least one
        an AU member state; a single applicant or a lead with one
        co-applicant; an EU-based lead needs an AU-based co-applicant unless
        it is a diaspora organisation; CSOs, local authorities and diaspora
        organisations; at least one JVAP domain and one dialogue.

        Chosen here because the call summary leaves them open:
        - max_funding_rate = 1: no co-financing requirement is stated, so
          none is imposed; the grant may still not exceed the total cost.
        - eligible_countries = None: no rule on where applicants are based
          is stated (the AU/EU rules above work from each country's
          membership, and the AU-based co-applicant may be in any AU member
          state, not only in the MMD partner countries).
        - mandatory_attachments: a registration certificate and the budget
          annex, the documents any grant application needs.
        The end date (implementation ending by 1 March 2027) is a date rule,
        not part of these eligibility rules.
        """
        return cls(
            grant_min=Decimal("100000.00"),
            grant_max=Decimal("150000.00"),
            max_funding_rate=Decimal("1"),
            duration_min_months=6,
            duration_max_months=6,
            max_countries=3,
            require_au_country=True,
            eu_lead_needs_au_co_applicant=True,
            max_co_applicants=1,
            eligible_applicant_types=APPLICANT_TYPES,
            eligible_countries=None,
            require_jvap_domain=True,
            require_dialogue=True,
            mandatory_attachments=("registration_certificate", "budget_annex"),
        )


_FIELD_NAMES: tuple[str, ...] = tuple(CallRules.__dataclass_fields__)


def _is_iso2(code: object) -> bool:
    return isinstance(code, str) and len(code) == 2 and all("A" <= ch <= "Z" for ch in code)


def _parse_decimal(name: str, value: Any) -> Decimal:
    # Floats are refused: 0.1 as a float is not 0.1, and money must be exact.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f'{name} must be a decimal string such as "100000.00", got {value!r}')
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name} is not a decimal number: {value!r}") from None
    if not parsed.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return parsed


def _parse_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def _parse_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _parse_str_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a list of strings, got {value!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"{name} must not contain duplicates, got {value!r}")
    return value


# --------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    iso2: str
    au_member: bool
    eu_member: bool


@dataclass(frozen=True)
class Applicant:
    organisation_type: str
    country: Country
    name: str


@dataclass(frozen=True)
class Proposal:
    """A proposal as the eligibility rules see it; a draft may leave fields empty."""

    lead: Applicant
    co_applicants: tuple[Applicant, ...] = ()
    requested_amount: Decimal | None = None
    total_cost: Decimal | None = None
    duration_months: int | None = None
    countries: tuple[Country, ...] = ()
    jvap_domains: tuple[str, ...] = ()
    dialogues: tuple[str, ...] = ()
    attachment_kinds: tuple[str, ...] = ()


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One failing rule: stable code, figures (JSON-serialisable), message, fix."""

    code: str
    params: dict[str, Any] = field(hash=False)
    message: str
    fix: str


def format_eur(amount: Decimal) -> str:
    """``EUR 100,000.00``: thousands separators, two decimals (more if present)."""
    exponent = amount.normalize().as_tuple().exponent
    if not isinstance(exponent, int):  # NaN or infinity: nothing to group
        return f"EUR {amount}"
    if exponent >= -2:
        return f"EUR {amount:,.2f}"
    return f"EUR {amount:,f}"  # never round away a sub-cent difference


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _months(count: int) -> str:
    return f"{count} month" if count == 1 else f"{count} months"


def _is_amount(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


def _label(applicant: Applicant, role: str) -> str:
    name = applicant.name.strip()
    if role == LEAD:
        subject = "The lead applicant"
    elif role == CO_APPLICANT:
        subject = "The co-applicant"
    else:
        subject = "The applicant"
    return f"{subject} {name}" if name else subject


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def check_applicant(rules: CallRules, applicant: Applicant) -> list[Failure]:
    """What a visitor can check before registering: organisation type and country."""
    return _check_applicant(rules, applicant, APPLICANT)


def check_proposal(rules: CallRules, proposal: Proposal) -> list[Failure]:
    """Every failing rule of the proposal, in a stable order (empty = eligible)."""
    failures: list[Failure] = []
    failures += _check_applicant(rules, proposal.lead, LEAD)
    for co_applicant in proposal.co_applicants:
        failures += _check_applicant(rules, co_applicant, CO_APPLICANT)
    failures += _check_partnership(rules, proposal)
    failures += _check_amount(rules, proposal)
    failures += _check_funding_rate(rules, proposal)
    failures += _check_duration(rules, proposal)
    failures += _check_countries(rules, proposal)
    failures += _check_contribution(rules, proposal)
    failures += _check_attachments(rules, proposal)
    return failures


def _check_applicant(rules: CallRules, applicant: Applicant, role: str) -> list[Failure]:
    failures: list[Failure] = []
    who = _label(applicant, role)
    base = {"role": role, "applicant": applicant.name}
    allowed = sorted(rules.eligible_applicant_types)
    allowed_labels = ", ".join(APPLICANT_TYPE_LABELS[t] for t in allowed)

    org_type = applicant.organisation_type.strip()
    if not org_type:
        failures.append(
            Failure(
                code="missing_applicant_type",
                params={**base, "eligible_types": allowed},
                message=f"{who} has no organisation type.",
                fix=f"Choose the organisation type; eligible types: {allowed_labels}.",
            )
        )
    elif org_type not in rules.eligible_applicant_types:
        type_label = APPLICANT_TYPE_LABELS.get(org_type, org_type)
        failures.append(
            Failure(
                code="applicant_type_not_eligible",
                params={**base, "organisation_type": org_type, "eligible_types": allowed},
                message=(
                    f'{who} is registered as organisation type "{type_label}", which is '
                    "not eligible under this call."
                ),
                fix=f"Apply as or with an eligible organisation: {allowed_labels}.",
            )
        )

    if rules.eligible_countries is not None:
        iso2 = applicant.country.iso2.strip().upper()
        eligible = sorted(rules.eligible_countries)
        if not iso2:
            failures.append(
                Failure(
                    code="missing_applicant_country",
                    params={**base, "eligible_countries": eligible},
                    message=f"{who} has no country where it is based.",
                    fix="Give the country where the organisation is legally registered.",
                )
            )
        elif iso2 not in rules.eligible_countries:
            failures.append(
                Failure(
                    code="applicant_country_not_eligible",
                    params={**base, "country": iso2, "eligible_countries": eligible},
                    message=(
                        f"{who} is based in {iso2}, which is not an eligible country "
                        "for applicants under this call."
                    ),
                    fix=(
                        "Apply as or with an organisation based in one of the eligible "
                        f"countries: {', '.join(eligible)}."
                    ),
                )
            )
    return failures


def _check_partnership(rules: CallRules, proposal: Proposal) -> list[Failure]:
    failures: list[Failure] = []
    count = len(proposal.co_applicants)
    if count > rules.max_co_applicants:
        if rules.max_co_applicants == 0:
            allowed = "no co-applicants"
        elif rules.max_co_applicants == 1:
            allowed = "at most 1 co-applicant"
        else:
            allowed = f"at most {rules.max_co_applicants} co-applicants"
        failures.append(
            Failure(
                code="too_many_co_applicants",
                params={"co_applicants": count, "maximum": rules.max_co_applicants},
                message=f"The proposal has {count} co-applicants; the call allows {allowed}.",
                fix=f"Remove co-applicants until there are {allowed}.",
            )
        )

    lead = proposal.lead
    if (
        rules.eu_lead_needs_au_co_applicant
        and lead.country.eu_member
        and lead.organisation_type.strip() != DIASPORA
        and not any(co.country.au_member for co in proposal.co_applicants)
    ):
        failures.append(
            Failure(
                code="eu_lead_without_au_co_applicant",
                params={"lead_country": lead.country.iso2.strip().upper()},
                message=(
                    f"{_label(lead, LEAD)} is based in an EU member state "
                    f"({lead.country.iso2.strip().upper()}) and has no co-applicant based "
                    "in an African Union member state."
                ),
                fix=(
                    "Add a co-applicant based in an African Union member state, or let an "
                    "organisation based in an African Union member state lead the proposal. "
                    "Diaspora organisations based in the EU may lead without one."
                ),
            )
        )
    return failures


def _check_amount(rules: CallRules, proposal: Proposal) -> list[Failure]:
    amount = proposal.requested_amount
    minimum, maximum = format_eur(rules.grant_min), format_eur(rules.grant_max)
    range_params = {"minimum": str(rules.grant_min), "maximum": str(rules.grant_max)}
    if amount is None:
        return [
            Failure(
                code="missing_amount",
                params=range_params,
                message="The requested amount is missing.",
                fix=f"Enter the requested amount, between {minimum} and {maximum}.",
            )
        ]
    if not _is_amount(amount):
        return [
            Failure(
                code="invalid_amount",
                params={"amount": str(amount), **range_params},
                message=f"The requested amount ({amount}) is not a valid amount.",
                fix=f"Enter the requested amount in euro, between {minimum} and {maximum}.",
            )
        ]
    if amount < rules.grant_min:
        return [
            Failure(
                code="amount_out_of_range",
                params={"amount": str(amount), **range_params},
                message=(
                    f"The requested amount {format_eur(amount)} is below the minimum of {minimum}."
                ),
                fix=(
                    f"Raise the requested amount to at least {minimum}, or widen the "
                    "action so that it needs a grant of that size."
                ),
            )
        ]
    if amount > rules.grant_max:
        return [
            Failure(
                code="amount_out_of_range",
                params={"amount": str(amount), **range_params},
                message=(
                    f"The requested amount {format_eur(amount)} is above the maximum of {maximum}."
                ),
                fix=(
                    f"Lower the requested amount to at most {maximum}, covering the rest "
                    "of the cost from other sources or reducing the action."
                ),
            )
        ]
    return []


def _check_funding_rate(rules: CallRules, proposal: Proposal) -> list[Failure]:
    total = proposal.total_cost
    if total is None:
        return [
            Failure(
                code="missing_total_cost",
                params={"max_funding_rate": str(rules.max_funding_rate)},
                message="The total eligible cost of the action is missing.",
                fix="Enter the total eligible cost from the budget.",
            )
        ]
    if not _is_amount(total) or total <= 0:
        return [
            Failure(
                code="invalid_total_cost",
                params={"total_cost": str(total)},
                message=f"The total eligible cost ({total}) must be a positive amount.",
                fix="Enter the total eligible cost from the budget, in euro.",
            )
        ]
    amount = proposal.requested_amount
    if not _is_amount(amount):
        return []  # reported by the amount check; the rate cannot be computed
    assert amount is not None  # for the type checker: _is_amount excludes None
    ceiling = total * rules.max_funding_rate
    if amount <= ceiling:
        return []
    rate = rules.max_funding_rate
    share = (amount / total).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    max_amount = ceiling.quantize(CENT, rounding=ROUND_DOWN)
    needed_total = (amount / rate).quantize(CENT, rounding=ROUND_UP)
    params = {
        "requested_amount": str(amount),
        "total_cost": str(total),
        "funding_rate": str(share),
        "max_funding_rate": str(rate),
        "max_amount": str(max_amount),
    }
    if rate == 1:
        message = (
            f"The requested amount {format_eur(amount)} is more than the total eligible "
            f"cost of {format_eur(total)}."
        )
        fix = (
            f"Lower the requested amount to at most {format_eur(max_amount)}, or correct "
            "the total eligible cost."
        )
    else:
        message = (
            f"The requested amount {format_eur(amount)} is {_percent(share)} of the total "
            f"eligible cost of {format_eur(total)}; the grant may cover at most "
            f"{_percent(rate)} ({format_eur(max_amount)})."
        )
        fix = (
            f"Lower the requested amount to at most {format_eur(max_amount)}, or add "
            f"co-financing so that the total eligible cost is at least "
            f"{format_eur(needed_total)}."
        )
    return [Failure(code="funding_rate_exceeded", params=params, message=message, fix=fix)]


def _check_duration(rules: CallRules, proposal: Proposal) -> list[Failure]:
    low, high = rules.duration_min_months, rules.duration_max_months
    required = _months(low) if low == high else f"between {low} and {high} months"
    params: dict[str, Any] = {"minimum": low, "maximum": high}
    duration = proposal.duration_months
    if duration is None:
        return [
            Failure(
                code="missing_duration",
                params=params,
                message="The duration of the action is missing.",
                fix=f"Enter the implementation period: {required}.",
            )
        ]
    if low <= duration <= high:
        return []
    if low == high:
        message = f"The duration of {_months(duration)} differs from the required {required}."
    elif duration < low:
        message = f"The duration of {_months(duration)} is below the minimum of {_months(low)}."
    else:
        message = f"The duration of {_months(duration)} is above the maximum of {_months(high)}."
    return [
        Failure(
            code="duration_out_of_range",
            params={"duration": duration, **params},
            message=message,
            fix=f"Plan the implementation period to last {required}.",
        )
    ]


def _check_countries(rules: CallRules, proposal: Proposal) -> list[Failure]:
    failures: list[Failure] = []
    codes = sorted({c.iso2.strip().upper() for c in proposal.countries if c.iso2.strip()})
    if not codes:
        failures.append(
            Failure(
                code="missing_countries",
                params={"maximum": rules.max_countries},
                message="No country of implementation is given.",
                fix=f"Add the countries of implementation (at most {rules.max_countries}).",
            )
        )
    elif len(codes) > rules.max_countries:
        failures.append(
            Failure(
                code="too_many_countries",
                params={
                    "countries": codes,
                    "count": len(codes),
                    "maximum": rules.max_countries,
                },
                message=(
                    f"The action is implemented in {len(codes)} countries "
                    f"({', '.join(codes)}); the call allows at most {rules.max_countries}."
                ),
                fix=(f"Reduce the countries of implementation to at most {rules.max_countries}."),
            )
        )
    if rules.require_au_country and not any(c.au_member for c in proposal.countries):
        failures.append(
            Failure(
                code="no_au_country",
                params={"countries": codes},
                message=(
                    "None of the countries of implementation is an African Union member state."
                ),
                fix=(
                    "Implement the action in at least one African Union member state, "
                    "replacing another country if the limit is reached."
                ),
            )
        )
    return failures


def _check_contribution(rules: CallRules, proposal: Proposal) -> list[Failure]:
    failures: list[Failure] = []
    if rules.require_jvap_domain and not any(d.strip() for d in proposal.jvap_domains):
        failures.append(
            Failure(
                code="no_jvap_domain",
                params={},
                message=(
                    "The action is not aligned with any domain of the Joint Valletta Action Plan."
                ),
                fix="Select at least one JVAP domain the action contributes to.",
            )
        )
    if rules.require_dialogue and not any(d.strip() for d in proposal.dialogues):
        failures.append(
            Failure(
                code="no_dialogue",
                params={},
                message="The action does not contribute to any of the dialogues.",
                fix=(
                    "Select at least one dialogue the action contributes to: the Rabat "
                    "Process, the Khartoum Process or the C2CMMD."
                ),
            )
        )
    return failures


def _check_attachments(rules: CallRules, proposal: Proposal) -> list[Failure]:
    present = set(proposal.attachment_kinds)
    return [
        Failure(
            code="attachment_missing",
            params={"kind": kind},
            message=f"The mandatory attachment {kind.replace('_', ' ')} is missing.",
            fix=f"Upload the {kind.replace('_', ' ')}.",
        )
        for kind in rules.mandatory_attachments
        if kind not in present
    ]
