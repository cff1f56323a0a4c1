"""Ranking and selection of scored applications (PRAG practice).

Pure rules: no database, no web layer. Callers pass the scored candidates,
the thresholds and the budgets; they get back a proposal that the
evaluation committee reviews before anything is awarded. Money is Decimal
throughout so that budget arithmetic is exact.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

RELEVANCE = "relevance"
CAPACITY = "capacity"
DEFAULT_ENVELOPE_RATIO = Decimal("2")

ZERO = Decimal(0)


@dataclass(frozen=True)
class Candidate:
    """A scored application as the selection rules see it."""

    application_id: int
    requested: Decimal
    total: Decimal
    section_scores: Mapping[str, Decimal] = field(default_factory=dict, hash=False)
    lot: str | None = None

    def __post_init__(self) -> None:
        # Floats would make budget sums inexact; refuse them at the door.
        _require_decimal("requested", self.requested)
        _require_decimal("total", self.total)
        for code, score in self.section_scores.items():
            _require_decimal(f"section {code}", score)
        if self.requested < ZERO:
            raise ValueError(
                f"application {self.application_id} requests a negative amount "
                f"({_fmt(self.requested)})"
            )
        # Copy so a caller mutating its dict later cannot change the ranking.
        object.__setattr__(self, "section_scores", dict(self.section_scores))

    def section(self, code: str) -> Decimal:
        """Score of one section; a missing section counts as 0 (for tie-breaking)."""
        return self.section_scores.get(code, ZERO)


@dataclass(frozen=True)
class Thresholds:
    """Minimum total and per-section minimums a candidate must reach."""

    total_threshold: Decimal
    section_minimums: Mapping[str, Decimal] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _require_decimal("total_threshold", self.total_threshold)
        for code, minimum in self.section_minimums.items():
            _require_decimal(f"minimum of section {code}", minimum)
        object.__setattr__(self, "section_minimums", dict(self.section_minimums))


@dataclass(frozen=True)
class Rejection:
    """A candidate that is not selected, with every reason in plain words."""

    candidate: Candidate
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SelectionProposal:
    """Outcome of a selection round, for the committee to review.

    Every candidate is in exactly one of ``selected``, ``reserve`` and
    ``rejected``; all three and ``ranking`` are in rank order. ``budgets``
    holds the amount available per lot (key None for a call without lots);
    with ``per_lot`` False every candidate draws on the single None budget,
    as for the concept-note envelope.
    """

    selected: tuple[Candidate, ...]
    reserve: tuple[Candidate, ...]
    rejected: tuple[Rejection, ...]
    ranking: tuple[Candidate, ...]
    budgets: Mapping[str | None, Decimal] = field(default_factory=dict, hash=False)
    per_lot: bool = True

    def budget(self, lot: str | None = None) -> Decimal:
        """Amount available for one lot (the envelope for concept notes)."""
        key = lot if self.per_lot else None
        if key not in self.budgets:
            raise ValueError(f"no budget for lot {lot!r}")
        return self.budgets[key]

    def selected_total(self, lot: str | None = None) -> Decimal:
        """Sum requested by the selected candidates charged to this lot's budget."""
        self.budget(lot)  # an unknown lot is an error, not a silent zero
        return sum(
            (c.requested for c in self.selected if not self.per_lot or c.lot == lot),
            ZERO,
        )

    def remaining_budget(self, lot: str | None = None) -> Decimal:
        """What is left of a lot's budget after the selection."""
        return self.budget(lot) - self.selected_total(lot)

    def remaining_budgets(self) -> dict[str | None, Decimal]:
        """Remaining amount for every lot, as ``promote_from_reserve`` expects."""
        return {lot: self.remaining_budget(lot) for lot in self.budgets}

    def reasons_for(self, application_id: int) -> tuple[str, ...]:
        """Why an application was rejected; empty if it was not rejected."""
        for rejection in self.rejected:
            if rejection.candidate.application_id == application_id:
                return rejection.reasons
        return ()


def threshold_failures(candidate: Candidate, thresholds: Thresholds) -> tuple[str, ...]:
    """Every reason the candidate misses the thresholds, so the letter can cite them all."""
    reasons: list[str] = []
    if candidate.total < thresholds.total_threshold:
        reasons.append(
            f"total {_fmt(candidate.total)} is below the threshold of "
            f"{_fmt(thresholds.total_threshold)}"
        )
    for code, minimum in thresholds.section_minimums.items():
        if code not in candidate.section_scores:
            reasons.append(f"section {code} has no score (its minimum is {_fmt(minimum)})")
            continue
        score = candidate.section_scores[code]
        if score < minimum:
            reasons.append(
                f"section {code} scored {_fmt(score)} below its minimum of {_fmt(minimum)}"
            )
    return tuple(reasons)


def passes_thresholds(candidate: Candidate, thresholds: Thresholds) -> bool:
    """True when the total and every section with a minimum are high enough."""
    return not threshold_failures(candidate, thresholds)


def rank_key(candidate: Candidate) -> tuple[Decimal, Decimal, Decimal, int]:
    """Sort key: total, then relevance, then capacity (all descending), then earlier id."""
    return (
        candidate.total.copy_negate(),
        candidate.section(RELEVANCE).copy_negate(),
        candidate.section(CAPACITY).copy_negate(),
        candidate.application_id,
    )


def rank(candidates: Iterable[Candidate]) -> tuple[Candidate, ...]:
    """Candidates in rank order; independent of input order because ids are unique."""
    items = tuple(candidates)
    _require_unique_ids(items)
    return tuple(sorted(items, key=rank_key))


def preselect_concept_notes(
    candidates: Iterable[Candidate],
    budget: Decimal,
    thresholds: Thresholds,
    envelope_ratio: Decimal = DEFAULT_ENVELOPE_RATIO,
) -> SelectionProposal:
    """Pre-select concept notes in rank order within envelope_ratio x the call budget.

    Lots are ignored: the envelope is for the whole call. A note that does not
    fit what is left of the envelope is rejected, but later smaller notes that
    still fit are pre-selected. Concept notes have no reserve list.
    """
    _require_decimal("budget", budget)
    _require_decimal("envelope_ratio", envelope_ratio)
    if budget < ZERO:
        raise ValueError(f"budget must not be negative, got {_fmt(budget)}")
    if envelope_ratio <= ZERO:
        raise ValueError(f"envelope ratio must be positive, got {_fmt(envelope_ratio)}")

    envelope = budget * envelope_ratio
    ranking = rank(candidates)
    envelope_reason = f"the {_fmt((envelope_ratio * 100).normalize())}% envelope is used up"

    selected: list[Candidate] = []
    rejected: list[Rejection] = []
    remaining = envelope
    for candidate in ranking:
        failures = threshold_failures(candidate, thresholds)
        if failures:
            rejected.append(Rejection(candidate, failures))
        elif candidate.requested <= remaining:
            selected.append(candidate)
            remaining -= candidate.requested
        else:
            rejected.append(Rejection(candidate, (envelope_reason,)))

    return SelectionProposal(
        selected=tuple(selected),
        reserve=(),
        rejected=tuple(rejected),
        ranking=ranking,
        budgets={None: envelope},
        per_lot=False,
    )


def select_full_applications(
    candidates: Iterable[Candidate],
    budgets: Mapping[str | None, Decimal],
    thresholds: Thresholds,
) -> SelectionProposal:
    """Select full applications in rank order while they fit their lot's budget.

    A passing application that does not fit goes to the reserve list (in rank
    order), and later smaller ones that fit are still selected. Key None in
    ``budgets`` is the call without lots. A candidate whose lot has no budget
    raises ValueError: silently dropping it would lose an application.
    """
    budgets = dict(budgets)
    for lot, amount in budgets.items():
        _require_decimal(f"budget of lot {lot!r}", amount)
        if amount < ZERO:
            raise ValueError(f"budget of lot {lot!r} must not be negative, got {_fmt(amount)}")

    ranking = rank(candidates)
    unknown = sorted({repr(c.lot) for c in ranking if c.lot not in budgets})
    if unknown:
        raise ValueError(f"no budget for lot(s) {', '.join(unknown)}")

    selected: list[Candidate] = []
    reserve: list[Candidate] = []
    rejected: list[Rejection] = []
    remaining = dict(budgets)
    for candidate in ranking:
        failures = threshold_failures(candidate, thresholds)
        if failures:
            rejected.append(Rejection(candidate, failures))
        elif candidate.requested <= remaining[candidate.lot]:
            selected.append(candidate)
            remaining[candidate.lot] -= candidate.requested
        else:
            reserve.append(candidate)

    return SelectionProposal(
        selected=tuple(selected),
        reserve=tuple(reserve),
        rejected=tuple(rejected),
        ranking=ranking,
        budgets=budgets,
        per_lot=True,
    )


def promote_from_reserve(
    reserve: Sequence[Candidate], remaining: Mapping[str | None, Decimal]
) -> Candidate | None:
    """The first reserve candidate, in rank order, that fits what is left of its lot.

    Used when a selected application is withdrawn or found ineligible: the
    caller adds the freed amount to ``remaining`` first. Reserve candidates
    too big for their lot are skipped; None when nobody fits. A candidate
    whose lot is missing from ``remaining`` raises ValueError.
    """
    for candidate in rank(reserve):
        if candidate.lot not in remaining:
            raise ValueError(f"no remaining budget given for lot {candidate.lot!r}")
        if candidate.requested <= remaining[candidate.lot]:
            return candidate
    return None


def _fmt(value: Decimal) -> str:
    """Plain notation (never 5E+1), so reasons read naturally in letters."""
    return f"{value:f}"


def _require_decimal(name: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")


def _require_unique_ids(candidates: Sequence[Candidate]) -> None:
    seen: set[int] = set()
    for candidate in candidates:
        if candidate.application_id in seen:
            raise ValueError(f"application {candidate.application_id} appears more than once")
        seen.add(candidate.application_id)
