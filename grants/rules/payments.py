"""Payment rules for grant contracts (PRAG general conditions for grants).

Pure functions, standard library only. Every money figure is a ``Decimal``
quantized to cents with ``ROUND_HALF_UP``; floats are refused outright so that
binary rounding errors can never reach a payment.

Rules covered:

* the payment schedule written into the contract (pre-financing instalments
  and the balance), with the 90% ceiling on total pre-financing;
* the reduction of a further pre-financing payment when less than 70% of the
  previous payment was used;
* the final balance or, when more was paid than is due, the recovery order;
* budget transfers between headings allowed by simple notification (25% rule);
* amounts in words, in English and French, for the contract text.

Percentages applied to money (70% of a payment, 90% or 25% of an amount) are
themselves money figures and are quantized to cents with ``ROUND_HALF_UP``
before being compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

PREFINANCING_CEILING = Decimal("0.9")
"""Total pre-financing may never exceed 90% of the maximum grant amount."""

USAGE_THRESHOLD = Decimal("0.7")
"""Share of the previous payment that must have been used to avoid a reduction."""

TRANSFER_LIMIT = Decimal("0.25")
"""Largest variation of a heading, against its original amount, by notification."""

MAX_AMOUNT_IN_WORDS = Decimal("999999999.99")

PaymentKind = Literal["prefinancing", "further_prefinancing", "balance"]
Language = Literal["en", "fr"]


# --------------------------------------------------------------------------
# Money helpers
# --------------------------------------------------------------------------


def to_money(value: Decimal | int, name: str = "amount") -> Decimal:
    """Return ``value`` as a Decimal quantized to cents (``ROUND_HALF_UP``).

    Floats and booleans are refused with ``TypeError``; NaN and infinities with
    ``ValueError``.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal or an int, not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"{name} must be a finite number, got {amount}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _rate(value: Decimal | int, name: str) -> Decimal:
    """Check a share or rate (not money: kept at full precision)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal or an int, not {type(value).__name__}")
    rate = Decimal(value)
    if not rate.is_finite():
        raise ValueError(f"{name} must be a finite number, got {rate}")
    return rate


def _share_of(amount: Decimal, share: Decimal) -> Decimal:
    return to_money(amount * share)


def format_eur(amount: Decimal) -> str:
    """``Decimal("120000.5")`` -> ``"EUR 120,000.50"``."""
    return f"EUR {to_money(amount):,.2f}"


def _percent(share: Decimal) -> str:
    """``Decimal("0.8")`` -> ``"80%"``; ``Decimal("0.125")`` -> ``"12.5%"``."""
    text = f"{share * 100:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


# --------------------------------------------------------------------------
# 1. Payment schedule
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedPayment:
    kind: PaymentKind
    sequence: int
    """1 for the first payment, then 2, 3, ... in the order they fall due."""
    amount: Decimal
    trigger: str
    """``"signature"``, ``"interim_report_<n>"`` or ``"final_report"``."""


def plan_payments(
    grant_amount: Decimal | int, prefinancing_shares: Sequence[Decimal]
) -> tuple[PlannedPayment, ...]:
    """Payment schedule of a contract.

    ``prefinancing_shares`` holds one share of the maximum grant amount per
    pre-financing instalment: a single share (typically 0.8) for an action of
    12 months or less, one per reporting period for a longer action. The first
    instalment is paid on signature, instalment ``n + 1`` on approval of
    interim report ``n``, and the balance after the final report.

    Shares adding up to more than 0.9 are refused with ``ValueError``.

    Amounts are rounded cumulatively: instalment ``k`` is the grant times the
    sum of the first ``k`` shares, less what the earlier instalments already
    hold. Total pre-financing is therefore exactly the grant times the total
    share (to the cent), can never exceed 90% through rounding, and the
    schedule adds up exactly to the grant amount.
    """
    grant = to_money(grant_amount, "grant_amount")
    if grant <= 0:
        raise ValueError(f"the grant amount must be positive, got {format_eur(grant)}")
    shares = [_rate(share, "pre-financing share") for share in prefinancing_shares]
    if not shares:
        raise ValueError("at least one pre-financing share is needed (paid on signature)")
    for position, share in enumerate(shares, start=1):
        if share <= 0:
            raise ValueError(f"pre-financing share {position} must be positive, got {share}")
    total_share = sum(shares, Decimal(0))
    if total_share > PREFINANCING_CEILING:
        listed = " + ".join(str(share) for share in shares)
        raise ValueError(
            f"pre-financing shares {listed} = {total_share} exceed the 90% ceiling: "
            f"{format_eur(_share_of(grant, total_share))} of a grant of {format_eur(grant)} "
            f"(at most {format_eur(_share_of(grant, PREFINANCING_CEILING))})"
        )

    payments: list[PlannedPayment] = []
    cumulative_share = Decimal(0)
    paid = ZERO
    for index, share in enumerate(shares):
        cumulative_share += share
        amount = _share_of(grant, cumulative_share) - paid
        paid += amount
        if index == 0:
            payments.append(PlannedPayment("prefinancing", 1, amount, "signature"))
        else:
            trigger = f"interim_report_{index}"
            payments.append(PlannedPayment("further_prefinancing", index + 1, amount, trigger))
    payments.append(PlannedPayment("balance", len(shares) + 1, grant - paid, "final_report"))
    return tuple(payments)


# --------------------------------------------------------------------------
# 2. Further pre-financing: the 70% rule
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentDecision:
    planned: Decimal
    """Amount foreseen in the payment schedule."""
    amount: Decimal
    """Amount to pay: ``planned - reduction``, never below zero."""
    reduction: Decimal
    """Reduction actually applied (at most the planned amount)."""
    used_of_previous: Decimal
    """Part of the previous payment used: expenditure beyond the earlier payments."""
    threshold: Decimal
    """70% of the previous payment."""
    explanation: str


def further_prefinancing_amount(
    planned: Decimal | int,
    previous_payment: Decimal | int,
    earlier_payments: Sequence[Decimal | int],
    expenditure: Decimal | int,
) -> PaymentDecision:
    """Amount of a further pre-financing payment.

    ``previous_payment`` is the last payment received; ``earlier_payments``
    are all the payments received before it; ``expenditure`` is the
    cumulative expenditure incurred and financed by the Contracting Authority
    (the EU share of the costs reported so far).

    Expenditure first absorbs the earlier payments in full; what remains is
    the part of the previous payment used (never below zero). When that part
    is below 70% of the previous payment, the further payment is reduced by
    the difference. The amount paid never goes below zero; when the shortfall
    exceeds the planned payment, the reduction is capped at the planned amount.
    """
    planned_amount = to_money(planned, "planned")
    previous = to_money(previous_payment, "previous_payment")
    earlier = [to_money(payment, "earlier payment") for payment in earlier_payments]
    spent = to_money(expenditure, "expenditure")
    checks = {"planned": planned_amount, "previous_payment": previous, "expenditure": spent}
    for name, value in checks.items():
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {format_eur(value)}")
    if any(payment < 0 for payment in earlier):
        raise ValueError("earlier payments must not be negative")

    earlier_total = sum(earlier, ZERO)
    used = max(ZERO, spent - earlier_total)
    threshold = _share_of(previous, USAGE_THRESHOLD)

    usage = (
        f"Expenditure of {format_eur(spent)}, less {format_eur(earlier_total)} of earlier "
        f"payments, leaves {format_eur(used)} used of the previous payment of "
        f"{format_eur(previous)}; 70% of that payment is {format_eur(threshold)}."
    )
    if spent < earlier_total:
        usage += " The earlier payments were not fully used."

    if used >= threshold:
        return PaymentDecision(
            planned=planned_amount,
            amount=planned_amount,
            reduction=ZERO,
            used_of_previous=used,
            threshold=threshold,
            explanation=(
                f"{usage} At least 70% was used, so the planned further pre-financing of "
                f"{format_eur(planned_amount)} is paid in full."
            ),
        )

    shortfall = threshold - used
    reduction = min(shortfall, planned_amount)
    amount = planned_amount - reduction
    explanation = (
        f"{usage} Less than 70% was used, so the planned further pre-financing of "
        f"{format_eur(planned_amount)} is reduced by {format_eur(threshold)} - "
        f"{format_eur(used)} = {format_eur(shortfall)}"
    )
    if reduction < shortfall:
        explanation += (
            f"; the reduction exceeds the planned payment, so nothing is paid "
            f"({format_eur(amount)})."
        )
    else:
        explanation += f", to {format_eur(amount)}."
    return PaymentDecision(
        planned=planned_amount,
        amount=amount,
        reduction=reduction,
        used_of_previous=used,
        threshold=threshold,
        explanation=explanation,
    )


# --------------------------------------------------------------------------
# 3. Final balance or recovery
# --------------------------------------------------------------------------


def check_prefinancing_ceiling(
    grant_amount: Decimal | int, prefinancing_paid: Decimal | int
) -> list[str]:
    """Reasons total pre-financing paid breaks the 90% ceiling (empty = fine)."""
    grant = to_money(grant_amount, "grant_amount")
    paid = to_money(prefinancing_paid, "prefinancing_paid")
    ceiling = _share_of(grant, PREFINANCING_CEILING)
    if paid <= ceiling:
        return []
    return [
        f"Total pre-financing paid, {format_eur(paid)}, exceeds 90% of the grant of "
        f"{format_eur(grant)} ({format_eur(ceiling)}) by {format_eur(paid - ceiling)}."
    ]


@dataclass(frozen=True)
class BalanceDecision:
    final_grant: Decimal
    """min(grant amount, eligible costs x funding rate)."""
    paid_so_far: Decimal
    balance: Decimal
    """Amount still to pay (zero when a recovery is due)."""
    recovery: Decimal
    """Amount to recover by recovery order (zero when a balance is due)."""
    ceiling_problems: tuple[str, ...]
    """Breaches of the 90% pre-financing ceiling (empty = none)."""
    explanation: str


def final_balance(
    grant_amount: Decimal | int,
    eligible_costs: Decimal | int,
    funding_rate: Decimal | int,
    paid_so_far: Decimal | int,
) -> BalanceDecision:
    """Balance payment (or recovery) after the final report.

    The final grant is the eligible costs times the funding rate, capped at
    the maximum grant amount. The balance is the final grant less what was
    paid; when more was paid than the final grant, no balance is due and the
    difference is recovered.

    Every payment before the balance is a pre-financing payment, so
    ``paid_so_far`` is also checked against the 90% ceiling on pre-financing;
    breaches are reported in ``ceiling_problems`` (they do not change the
    figures).
    """
    grant = to_money(grant_amount, "grant_amount")
    costs = to_money(eligible_costs, "eligible_costs")
    rate = _rate(funding_rate, "funding_rate")
    paid = to_money(paid_so_far, "paid_so_far")
    if grant <= 0:
        raise ValueError(f"the grant amount must be positive, got {format_eur(grant)}")
    if costs < 0:
        raise ValueError(f"eligible costs must not be negative, got {format_eur(costs)}")
    if not 0 < rate <= 1:
        raise ValueError(f"the funding rate must be above 0 and at most 1, got {rate}")
    if paid < 0:
        raise ValueError(f"amount paid must not be negative, got {format_eur(paid)}")

    funded_costs = _share_of(costs, rate)
    final_grant = min(grant, funded_costs)
    explanation = (
        f"Eligible costs of {format_eur(costs)} at a funding rate of {_percent(rate)} give "
        f"{format_eur(funded_costs)}"
    )
    if funded_costs > grant:
        explanation += f", capped at the maximum grant of {format_eur(grant)}"
    explanation += f"; final grant {format_eur(final_grant)}, already paid {format_eur(paid)}."

    if paid > final_grant:
        balance, recovery = ZERO, paid - final_grant
        explanation += f" No balance is due; a recovery order of {format_eur(recovery)} is issued."
    else:
        balance, recovery = final_grant - paid, ZERO
        explanation += f" Balance to pay: {format_eur(balance)}."

    return BalanceDecision(
        final_grant=final_grant,
        paid_so_far=paid,
        balance=balance,
        recovery=recovery,
        ceiling_problems=tuple(check_prefinancing_ceiling(grant, paid)),
        explanation=explanation,
    )


# --------------------------------------------------------------------------
# 4. Budget transfers by notification
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    from_heading: str
    to_heading: str
    amount: Decimal


def _heading_variations(
    original: Mapping[str, Decimal], transfers: Sequence[Transfer]
) -> dict[str, Decimal]:
    """Net change of each heading: incoming transfers minus outgoing transfers."""
    variations = {heading: ZERO for heading in original}
    for transfer in transfers:
        amount = to_money(transfer.amount, "transfer amount")
        for heading in (transfer.from_heading, transfer.to_heading):
            if heading not in original:
                raise ValueError(f"earlier transfer uses an unknown heading: {heading!r}")
        if amount <= 0 or transfer.from_heading == transfer.to_heading:
            raise ValueError(f"earlier transfer is not valid: {transfer!r}")
        variations[transfer.from_heading] -= amount
        variations[transfer.to_heading] += amount
    return variations


def check_budget_transfer(
    original: Mapping[str, Decimal],
    transfers_so_far: Sequence[Transfer],
    new: Transfer,
) -> list[str]:
    """Every reason ``new`` needs a contract addendum (empty list = notification is enough).

    A transfer between budget headings may be made by simple notification
    when, for each heading it touches, the variation of that heading against
    its ORIGINAL amount stays within 25% of that original amount.

    Decision: both outgoing and incoming transfers count. The variation of a
    heading is its net cumulative change over all notified transfers plus the
    new one (incoming amounts added, outgoing amounts subtracted), taken in
    absolute value. A heading reduced by 10% and later increased by 10% is
    back at its original amount and has no variation left. Exactly 25% is
    allowed; one cent more is not. A heading with an original amount of zero
    can therefore not be fed by notification.

    Unknown headings, non-positive amounts and transfers from a heading to
    itself are refused with reasons. Invalid earlier transfers or original
    amounts raise ``ValueError`` (they should never have been recorded).
    """
    budget = {
        heading: to_money(amount, f"original amount of {heading!r}")
        for heading, amount in original.items()
    }
    for heading, amount in budget.items():
        if amount < 0:
            raise ValueError(
                f"original amount of {heading!r} must not be negative, got {format_eur(amount)}"
            )

    reasons: list[str] = []
    amount = to_money(new.amount, "transfer amount")
    known: list[str] = []
    for role, heading in (("source", new.from_heading), ("destination", new.to_heading)):
        if heading in budget:
            known.append(heading)
        else:
            reasons.append(f"Unknown {role} heading {heading!r}: it is not in the original budget.")
    if amount <= 0:
        reasons.append(f"The transfer amount must be positive, got {format_eur(amount)}.")
    if new.from_heading == new.to_heading:
        reasons.append(f"A transfer from heading {new.from_heading!r} to itself is not a transfer.")
    if amount <= 0 or new.from_heading == new.to_heading:
        return reasons

    variations = _heading_variations(budget, transfers_so_far)
    if new.from_heading in budget:
        variations[new.from_heading] -= amount
    if new.to_heading in budget:
        variations[new.to_heading] += amount

    for heading in known:
        base = budget[heading]
        variation = variations[heading]
        limit = _share_of(base, TRANSFER_LIMIT)
        if abs(variation) <= limit:
            continue
        direction = "increase" if variation > 0 else "decrease"
        reasons.append(
            f"Heading {heading!r}: the cumulative {direction} of {format_eur(abs(variation))} "
            f"against its original amount of {format_eur(base)} exceeds the 25% limit of "
            f"{format_eur(limit)} by {format_eur(abs(variation) - limit)}; "
            f"a contract addendum is needed."
        )
    return reasons


# --------------------------------------------------------------------------
# 5. Amounts in words
# --------------------------------------------------------------------------

_EN_UNITS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")

_FR_UNITS = (
    "zéro",
    "un",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
    "dix-sept",
    "dix-huit",
    "dix-neuf",
)
_FR_TENS = ("", "", "vingt", "trente", "quarante", "cinquante", "soixante")


def _en_below_100(number: int) -> str:
    if number < 20:
        return _EN_UNITS[number]
    tens, units = divmod(number, 10)
    return _EN_TENS[tens] + (f"-{_EN_UNITS[units]}" if units else "")


def _en_below_1000(number: int) -> str:
    hundreds, rest = divmod(number, 100)
    if not hundreds:
        return _en_below_100(rest)
    words = f"{_EN_UNITS[hundreds]} hundred"
    return f"{words} and {_en_below_100(rest)}" if rest else words


def _en_integer(number: int) -> str:
    """British usage: "one hundred and five", "two thousand and ten"."""
    if number == 0:
        return "zero"
    millions, rest = divmod(number, 1_000_000)
    thousands, units = divmod(rest, 1000)
    words: list[str] = []
    if millions:
        words.append(f"{_en_below_1000(millions)} million")
    if thousands:
        words.append(f"{_en_below_1000(thousands)} thousand")
    if units:
        if words and units < 100:
            words.append(f"and {_en_below_100(units)}")
        else:
            words.append(_en_below_1000(units))
    return " ".join(words)


def _fr_below_100(number: int, final: bool) -> str:
    """``final``: nothing multiplies this numeral (not followed by "mille")."""
    if number < 20:
        return _FR_UNITS[number]
    tens, units = divmod(number, 10)
    if tens == 7:  # soixante-dix ... soixante-dix-neuf, soixante et onze
        return "soixante et onze" if units == 1 else f"soixante-{_FR_UNITS[10 + units]}"
    if tens == 8:  # quatre-vingts, quatre-vingt-un (no "et")
        if units == 0:
            return "quatre-vingts" if final else "quatre-vingt"
        return f"quatre-vingt-{_FR_UNITS[units]}"
    if tens == 9:  # quatre-vingt-dix ... quatre-vingt-dix-neuf, quatre-vingt-onze
        return f"quatre-vingt-{_FR_UNITS[10 + units]}"
    if units == 0:
        return _FR_TENS[tens]
    if units == 1:
        return f"{_FR_TENS[tens]} et un"
    return f"{_FR_TENS[tens]}-{_FR_UNITS[units]}"


def _fr_below_1000(number: int, final: bool) -> str:
    """Hundreds in French.

    "cents" (like "quatre-vingts") takes an s only when it ends the numeral:
    "mille" is a numeral ("deux cent mille") but "million" is a noun ("deux
    cents millions"), and so is "euros" ("deux cents euros").
    """
    hundreds, rest = divmod(number, 100)
    if not hundreds:
        return _fr_below_100(rest, final)
    words = "cent" if hundreds == 1 else f"{_FR_UNITS[hundreds]} cent"
    if rest:
        return f"{words} {_fr_below_100(rest, final)}"
    return f"{words}s" if hundreds > 1 and final else words


def _fr_integer(number: int) -> str:
    """Traditional spelling (hyphens only below one hundred, "et un")."""
    if number == 0:
        return "zéro"
    millions, rest = divmod(number, 1_000_000)
    thousands, units = divmod(rest, 1000)
    words: list[str] = []
    if millions:
        noun = "million" if millions == 1 else "millions"
        words.append(f"{_fr_below_1000(millions, final=True)} {noun}")
    if thousands:
        # "mille" is invariable and never preceded by "un".
        words.append("mille" if thousands == 1 else f"{_fr_below_1000(thousands, False)} mille")
    if units:
        words.append(_fr_below_1000(units, final=True))
    return " ".join(words)


def amount_in_words(amount: Decimal | int, language: Language = "en") -> str:
    """Amount in euros written out for a contract, in English or French.

    >>> amount_in_words(Decimal("120000"), "en")
    'one hundred and twenty thousand euros'
    >>> amount_in_words(Decimal("120000"), "fr")
    'cent vingt mille euros'

    Cents follow: "... and fifty cents" / "... et cinquante centimes". A round
    number of millions takes "d'euros" in French ("un million d'euros"). Amounts
    from 0 to 999,999,999.99 are accepted.
    """
    money = to_money(amount, "amount")
    if money < 0 or money > MAX_AMOUNT_IN_WORDS:
        raise ValueError(f"amounts in words go from 0 to {MAX_AMOUNT_IN_WORDS:,}, got {money:,}")
    euros = int(money)
    cents = int((money - euros) * 100)

    if language == "en":
        euro_part = f"{_en_integer(euros)} {'euro' if euros == 1 else 'euros'}"
        cent_part = f"{_en_integer(cents)} {'cent' if cents == 1 else 'cents'}"
        connector = " and "
    elif language == "fr":
        if euros and euros % 1_000_000 == 0:
            euro_part = f"{_fr_integer(euros)} d'euros"
        else:
            euro_part = f"{_fr_integer(euros)} {'euros' if euros > 1 else 'euro'}"
        cent_part = f"{_fr_integer(cents)} {'centimes' if cents > 1 else 'centime'}"
        connector = " et "
    else:
        raise ValueError(f"language must be 'en' or 'fr', got {language!r}")

    if not cents:
        return euro_part
    if not euros:
        return cent_part
    return f"{euro_part}{connector}{cent_part}"
