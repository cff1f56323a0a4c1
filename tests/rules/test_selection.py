from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grants.rules.selection import (
    Candidate,
    SelectionProposal,
    Thresholds,
    passes_thresholds,
    preselect_concept_notes,
    promote_from_reserve,
    rank,
    select_full_applications,
    threshold_failures,
)

D = Decimal
NO_MINIMUMS = Thresholds(total_threshold=D("50"))


def cand(
    application_id: int,
    requested: str,
    total: str,
    relevance: str | None = None,
    capacity: str | None = None,
    lot: str | None = None,
) -> Candidate:
    sections = {}
    if relevance is not None:
        sections["relevance"] = D(relevance)
    if capacity is not None:
        sections["capacity"] = D(capacity)
    return Candidate(application_id, D(requested), D(total), sections, lot)


def ids(candidates) -> list[int]:
    return [c.application_id for c in candidates]


def rejected_ids(proposal: SelectionProposal) -> list[int]:
    return [r.candidate.application_id for r in proposal.rejected]


# --- ranking -----------------------------------------------------------------


def test_ties_broken_by_relevance_then_capacity_then_earlier_id():
    candidates = [
        cand(7, "10", "80", relevance="25", capacity="15"),
        cand(3, "10", "80", relevance="25", capacity="15"),  # same as 7, earlier id
        cand(5, "10", "80", relevance="25", capacity="18"),  # better capacity
        cand(9, "10", "80", relevance="28", capacity="10"),  # better relevance
        cand(1, "10", "80"),  # missing sections count as 0
        cand(8, "10", "81", relevance="1", capacity="1"),  # higher total beats all
    ]
    assert ids(rank(candidates)) == [8, 9, 5, 3, 7, 1]


def test_missing_section_counts_as_zero_for_tie_breaking():
    with_zero = cand(4, "10", "60", relevance="0", capacity="0")
    without = cand(2, "10", "60")
    with_capacity = cand(6, "10", "60", capacity="1")
    assert ids(rank([with_zero, without, with_capacity])) == [6, 2, 4]


def test_ranking_ties_decide_who_gets_the_last_money():
    budget = {None: D("100")}
    a = cand(2, "100", "70", relevance="20", capacity="12")
    b = cand(1, "100", "70", relevance="20", capacity="13")
    proposal = select_full_applications([a, b], budget, NO_MINIMUMS)
    assert ids(proposal.selected) == [1]
    assert ids(proposal.reserve) == [2]


def test_duplicate_application_ids_are_refused():
    with pytest.raises(ValueError, match="more than once"):
        rank([cand(1, "10", "60"), cand(1, "20", "70")])


def test_float_money_is_refused():
    with pytest.raises(TypeError, match="Decimal"):
        Candidate(1, 100.0, D("60"))  # type: ignore[arg-type]


# --- thresholds ----------------------------------------------------------------


def test_section_minimum_failing_gives_every_reason_with_figures():
    thresholds = Thresholds(D("50"), {"capacity": D("12"), "relevance": D("15")})
    c = Candidate(1, D("1000"), D("47.50"), {"capacity": D("11")})
    assert threshold_failures(c, thresholds) == (
        "total 47.50 is below the threshold of 50",
        "section capacity scored 11 below its minimum of 12",
        "section relevance has no score (its minimum is 15)",
    )
    assert not passes_thresholds(c, thresholds)


def test_section_minimum_alone_rejects_a_high_total():
    thresholds = Thresholds(D("50"), {"capacity": D("12")})
    strong_but_weak_capacity = cand(1, "10", "90", capacity="11.5")
    ok = cand(2, "10", "55", capacity="12")
    proposal = select_full_applications(
        [strong_but_weak_capacity, ok], {None: D("1000")}, thresholds
    )
    assert ids(proposal.selected) == [2]
    assert proposal.reasons_for(1) == ("section capacity scored 11.5 below its minimum of 12",)
    assert proposal.reasons_for(2) == ()


def test_exactly_on_threshold_and_minimum_passes():
    thresholds = Thresholds(D("50"), {"capacity": D("12")})
    assert passes_thresholds(cand(1, "10", "50.00", capacity="12"), thresholds)


def test_everyone_below_threshold_is_rejected():
    candidates = [cand(i, "10", str(40 + i)) for i in range(1, 6)]
    proposal = select_full_applications(candidates, {None: D("1000000")}, NO_MINIMUMS)
    assert proposal.selected == ()
    assert proposal.reserve == ()
    assert rejected_ids(proposal) == [5, 4, 3, 2, 1]
    assert proposal.reasons_for(1) == ("total 41 is below the threshold of 50",)
    assert proposal.remaining_budget() == D("1000000")


# --- full applications ----------------------------------------------------------


def test_exact_budget_fit_selects_all():
    candidates = [cand(1, "40000.50", "90"), cand(2, "59999.50", "80")]
    proposal = select_full_applications(candidates, {None: D("100000")}, NO_MINIMUMS)
    assert ids(proposal.selected) == [1, 2]
    assert proposal.reserve == ()
    assert proposal.selected_total() == D("100000.00")
    assert proposal.remaining_budget() == D("0")


def test_next_does_not_fit_but_later_smaller_one_does():
    candidates = [
        cand(1, "60000", "90"),
        cand(2, "50000", "85"),  # 40000 left: does not fit -> reserve
        cand(3, "45000", "80"),  # does not fit either -> reserve, after 2
        cand(4, "30000", "75"),  # fits -> selected
        cand(5, "10000", "70"),  # 10000 left: fits exactly
        cand(6, "1", "65"),  # nothing left -> reserve
        cand(7, "1", "40"),  # below threshold -> rejected, not reserve
    ]
    proposal = select_full_applications(candidates, {None: D("100000")}, NO_MINIMUMS)
    assert ids(proposal.selected) == [1, 4, 5]
    assert ids(proposal.reserve) == [2, 3, 6]
    assert rejected_ids(proposal) == [7]
    assert ids(proposal.ranking) == [1, 2, 3, 4, 5, 6, 7]
    assert proposal.remaining_budget() == D("0")


def test_lots_have_separate_budgets():
    candidates = [
        cand(1, "80", "95", lot="north"),
        cand(2, "50", "90", lot="north"),  # north has 20 left -> reserve
        cand(3, "50", "85", lot="south"),
        cand(4, "20", "60", lot="north"),  # fits north exactly
        cand(5, "60", "55", lot="south"),  # south has 50 left -> reserve
        cand(6, "30", "52", lot="south"),  # fits south
    ]
    budgets = {"north": D("100"), "south": D("100")}
    proposal = select_full_applications(candidates, budgets, NO_MINIMUMS)
    assert ids(proposal.selected) == [1, 3, 4, 6]
    assert ids(proposal.reserve) == [2, 5]
    assert proposal.selected_total("north") == D("100")
    assert proposal.selected_total("south") == D("80")
    assert proposal.remaining_budgets() == {"north": D("0"), "south": D("20")}


def test_candidate_in_a_lot_without_budget_is_an_error():
    candidates = [cand(1, "10", "90", lot="north"), cand(2, "10", "20", lot="east")]
    with pytest.raises(ValueError, match="'east'"):
        select_full_applications(candidates, {"north": D("100")}, NO_MINIMUMS)


def test_call_without_lots_uses_the_none_budget():
    proposal = select_full_applications([cand(1, "10", "90")], {None: D("10")}, NO_MINIMUMS)
    assert ids(proposal.selected) == [1]
    with pytest.raises(ValueError, match="no budget"):
        proposal.remaining_budget("north")


# --- concept notes ---------------------------------------------------------------


def test_concept_notes_preselected_up_to_twice_the_budget():
    candidates = [
        cand(1, "100", "90", lot="north"),
        cand(2, "80", "85", lot="south"),  # 180 of 200
        cand(3, "30", "80"),  # 20 left: does not fit
        cand(4, "20", "75"),  # fits exactly
        cand(5, "5", "70"),  # envelope used up
        cand(6, "5", "45"),  # below threshold
    ]
    proposal = preselect_concept_notes(candidates, D("100"), NO_MINIMUMS)
    assert ids(proposal.selected) == [1, 2, 4]
    assert proposal.reserve == ()
    assert rejected_ids(proposal) == [3, 5, 6]
    assert proposal.reasons_for(3) == ("the 200% envelope is used up",)
    assert proposal.reasons_for(5) == ("the 200% envelope is used up",)
    assert proposal.reasons_for(6) == ("total 45 is below the threshold of 50",)
    # Lots do not matter for the envelope: it is one pot for the whole call.
    assert proposal.budget() == D("200")
    assert proposal.selected_total("north") == D("200")
    assert proposal.remaining_budget() == D("0")


def test_concept_note_envelope_ratio_is_named_in_the_reason():
    candidates = [cand(1, "100", "90"), cand(2, "60", "80")]
    proposal = preselect_concept_notes(candidates, D("100"), NO_MINIMUMS, D("1.5"))
    assert ids(proposal.selected) == [1]
    assert proposal.reasons_for(2) == ("the 150% envelope is used up",)


# --- promotion -------------------------------------------------------------------


def test_promotion_after_ineligibility_skips_a_too_big_reserve():
    candidates = [
        cand(1, "60", "95"),
        cand(2, "40", "90"),
        cand(3, "70", "85"),  # reserve, too big even after 40 is freed
        cand(4, "38", "80"),  # reserve, fits once 40 is freed
        cand(5, "35", "75"),  # reserve, fits too (and is smaller) but ranks lower
    ]
    budgets = {None: D("100")}
    proposal = select_full_applications(candidates, budgets, NO_MINIMUMS)
    assert ids(proposal.selected) == [1, 2]
    assert ids(proposal.reserve) == [3, 4, 5]
    assert promote_from_reserve(proposal.reserve, proposal.remaining_budgets()) is None

    # Application 2 is found ineligible: its 40 is freed.
    remaining = {None: proposal.remaining_budget() + D("40")}
    promoted = promote_from_reserve(proposal.reserve, remaining)
    assert promoted is not None
    assert promoted.application_id == 4


def test_promotion_only_uses_budget_freed_in_the_same_lot():
    reserve = [
        cand(1, "30", "90", lot="north"),
        cand(2, "30", "80", lot="south"),
    ]
    remaining = {"north": D("10"), "south": D("30")}
    promoted = promote_from_reserve(reserve, remaining)
    assert promoted is not None
    assert promoted.application_id == 2
    with pytest.raises(ValueError, match="'south'"):
        promote_from_reserve(reserve, {"north": D("10")})


def test_promotion_follows_rank_not_list_order():
    reserve = [cand(2, "10", "70"), cand(1, "10", "80")]
    promoted = promote_from_reserve(reserve, {None: D("10")})
    assert promoted is not None
    assert promoted.application_id == 1


# --- properties ------------------------------------------------------------------

LOTS = (None, "north", "south")
money = st.decimals(min_value=0, max_value=100_000, places=2)
# Coarse scores make ties frequent, so tie-breaking is exercised.
score = st.integers(min_value=0, max_value=20).map(lambda n: D(n) * 5)
section_score = st.integers(min_value=0, max_value=6).map(lambda n: D(n) * 5)


@st.composite
def candidate_lists(draw, lots=LOTS) -> list[Candidate]:
    application_ids = draw(st.lists(st.integers(1, 10_000), unique=True, max_size=25))
    candidates = []
    for application_id in application_ids:
        sections = draw(
            st.dictionaries(st.sampled_from(["relevance", "capacity", "design"]), section_score)
        )
        candidates.append(
            Candidate(
                application_id=application_id,
                requested=draw(money),
                total=draw(score),
                section_scores=sections,
                lot=draw(st.sampled_from(lots)),
            )
        )
    return candidates


thresholds_strategy = st.builds(
    Thresholds,
    total_threshold=score,
    section_minimums=st.dictionaries(st.sampled_from(["relevance", "capacity"]), section_score),
)
budgets_strategy = st.fixed_dictionaries(
    {lot: st.decimals(min_value=0, max_value=300_000, places=2) for lot in LOTS}
)


def assert_partition(proposal: SelectionProposal, candidates: list[Candidate]) -> None:
    outcome = ids(proposal.selected) + ids(proposal.reserve) + rejected_ids(proposal)
    assert sorted(outcome) == sorted(ids(candidates))
    assert sorted(ids(proposal.ranking)) == sorted(ids(candidates))
    position = {c.application_id: i for i, c in enumerate(proposal.ranking)}
    for group in (ids(proposal.selected), ids(proposal.reserve), rejected_ids(proposal)):
        assert group == sorted(group, key=position.__getitem__)


@given(candidate_lists(), budgets_strategy, thresholds_strategy)
def test_full_selection_properties(candidates, budgets, thresholds):
    proposal = select_full_applications(candidates, budgets, thresholds)
    assert_partition(proposal, candidates)
    for lot in LOTS:
        in_lot = [c for c in proposal.selected if c.lot == lot]
        assert sum((c.requested for c in in_lot), D(0)) <= budgets[lot]
        assert proposal.remaining_budget(lot) >= 0
    for c in proposal.selected + proposal.reserve:
        assert passes_thresholds(c, thresholds)
    for rejection in proposal.rejected:
        assert rejection.reasons
        assert rejection.reasons == threshold_failures(rejection.candidate, thresholds)
    # A reserve exists only because its lot's budget ran short.
    for c in proposal.reserve:
        assert c.requested > proposal.remaining_budget(c.lot)


@given(candidate_lists(), budgets_strategy, thresholds_strategy, st.data())
def test_full_selection_does_not_depend_on_input_order(candidates, budgets, thresholds, data):
    shuffled = data.draw(st.permutations(candidates))
    assert select_full_applications(shuffled, budgets, thresholds) == (
        select_full_applications(candidates, budgets, thresholds)
    )


@given(
    candidate_lists(),
    st.decimals(min_value=0, max_value=300_000, places=2),
    thresholds_strategy,
    st.sampled_from([D("1"), D("1.5"), D("2"), D("3")]),
    st.data(),
)
def test_concept_note_properties(candidates, budget, thresholds, ratio, data):
    proposal = preselect_concept_notes(candidates, budget, thresholds, ratio)
    assert_partition(proposal, candidates)
    assert proposal.reserve == ()
    assert sum((c.requested for c in proposal.selected), D(0)) <= budget * ratio
    for c in proposal.selected:
        assert passes_thresholds(c, thresholds)
    for rejection in proposal.rejected:
        failures = threshold_failures(rejection.candidate, thresholds)
        if failures:
            assert rejection.reasons == failures
        else:
            assert rejection.reasons[0].endswith("% envelope is used up")
            assert rejection.candidate.requested > proposal.remaining_budget()
    shuffled = data.draw(st.permutations(candidates))
    assert preselect_concept_notes(shuffled, budget, thresholds, ratio) == proposal


@given(candidate_lists(), budgets_strategy, thresholds_strategy, st.data())
def test_promotion_picks_the_first_reserve_that_fits(candidates, budgets, thresholds, data):
    proposal = select_full_applications(candidates, budgets, thresholds)
    remaining: Mapping[str | None, Decimal] = proposal.remaining_budgets()
    if proposal.selected:
        # Withdraw one selected application and free its amount.
        withdrawn = data.draw(st.sampled_from(proposal.selected))
        remaining = dict(remaining)
        remaining[withdrawn.lot] += withdrawn.requested
    promoted = promote_from_reserve(proposal.reserve, remaining)
    fitting = [c for c in proposal.reserve if c.requested <= remaining[c.lot]]
    if promoted is None:
        assert fitting == []
    else:
        assert promoted == fitting[0]
        assert promoted.requested <= remaining[promoted.lot]
