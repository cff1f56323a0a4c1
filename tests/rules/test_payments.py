"""Tests for the payment rules: schedule, 70% rule, balance, transfers, amounts in words."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grants.rules.payments import (
    BalanceDecision,
    PaymentDecision,
    PlannedPayment,
    Transfer,
    amount_in_words,
    check_budget_transfer,
    check_prefinancing_ceiling,
    final_balance,
    further_prefinancing_amount,
    plan_payments,
    to_money,
)

D = Decimal


# --------------------------------------------------------------------------
# Money helper
# --------------------------------------------------------------------------


def test_to_money_rounds_half_up_to_cents() -> None:
    assert to_money(D("0.005")) == D("0.01")
    assert to_money(D("0.0049")) == D("0.00")
    assert to_money(D("2.675")) == D("2.68")
    assert to_money(12) == D("12.00")
    assert str(to_money(12)) == "12.00"


@pytest.mark.parametrize("bad", [0.1, 1.0, True])
def test_to_money_refuses_floats_and_booleans(bad: object) -> None:
    with pytest.raises(TypeError):
        to_money(bad)  # type: ignore[arg-type]


def test_to_money_refuses_nan() -> None:
    with pytest.raises(ValueError, match="finite"):
        to_money(D("NaN"))


# --------------------------------------------------------------------------
# 1. Payment schedule
# --------------------------------------------------------------------------


def test_short_action_one_prefinancing_of_80_percent_then_balance() -> None:
    plan = plan_payments(D("100000"), [D("0.8")])
    assert plan == (
        PlannedPayment("prefinancing", 1, D("80000.00"), "signature"),
        PlannedPayment("balance", 2, D("20000.00"), "final_report"),
    )


def test_longer_action_one_prefinancing_per_reporting_period() -> None:
    plan = plan_payments(D("300000"), [D("0.4"), D("0.3"), D("0.2")])
    assert [(p.kind, p.sequence, p.amount, p.trigger) for p in plan] == [
        ("prefinancing", 1, D("120000.00"), "signature"),
        ("further_prefinancing", 2, D("90000.00"), "interim_report_1"),
        ("further_prefinancing", 3, D("60000.00"), "interim_report_2"),
        ("balance", 4, D("30000.00"), "final_report"),
    ]
    assert sum(p.amount for p in plan) == D("300000.00")


def test_prefinancing_exactly_90_percent_is_allowed() -> None:
    plan = plan_payments(D("200000"), [D("0.5"), D("0.4")])
    assert [p.amount for p in plan] == [D("100000.00"), D("80000.00"), D("20000.00")]


def test_prefinancing_above_90_percent_is_refused_with_the_figures() -> None:
    with pytest.raises(ValueError) as error:
        plan_payments(D("200000"), [D("0.5"), D("0.41")])
    message = str(error.value)
    assert "0.5 + 0.41 = 0.91" in message
    assert "90%" in message
    assert "EUR 182,000.00" in message  # what was asked
    assert "EUR 180,000.00" in message  # the ceiling


def test_single_share_above_90_percent_is_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.95"):
        plan_payments(D("100000"), [D("0.95")])


def test_schedule_rounds_cumulatively_so_it_adds_up_to_the_grant() -> None:
    # 30% of 100,000.01 is 30,000.003; cumulative rounding gives 30,000.00,
    # then 60,000.006 -> 60,000.01 (so 30,000.01), then 90,000.009 -> 90,000.01.
    plan = plan_payments(D("100000.01"), [D("0.3"), D("0.3"), D("0.3")])
    assert [p.amount for p in plan] == [
        D("30000.00"),
        D("30000.01"),
        D("30000.00"),
        D("10000.00"),
    ]
    assert sum(p.amount for p in plan) == D("100000.01")


@pytest.mark.parametrize(
    ("grant", "shares", "message"),
    [
        (D("100000"), [], "at least one"),
        (D("100000"), [D("0.5"), D("0")], "share 2 must be positive"),
        (D("100000"), [D("-0.1")], "must be positive"),
        (D("0"), [D("0.8")], "grant amount must be positive"),
    ],
)
def test_invalid_schedules_are_refused(grant: Decimal, shares: list[Decimal], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_payments(grant, shares)


def test_float_share_is_refused() -> None:
    with pytest.raises(TypeError):
        plan_payments(D("100000"), [0.8])  # type: ignore[list-item]


@given(
    grant=st.decimals(min_value=D("0.01"), max_value=D("100000000"), places=2),
    shares=st.lists(
        st.decimals(min_value=D("0.001"), max_value=D("0.3"), places=3), min_size=1, max_size=3
    ),
)
def test_schedule_always_adds_up_and_respects_the_ceiling(
    grant: Decimal, shares: list[Decimal]
) -> None:
    plan = plan_payments(grant, shares)
    prefinancing = sum(p.amount for p in plan if p.kind != "balance")
    assert sum(p.amount for p in plan) == grant
    assert check_prefinancing_ceiling(grant, prefinancing) == []
    assert all(p.amount >= 0 for p in plan)
    assert [p.sequence for p in plan] == list(range(1, len(shares) + 2))


# --------------------------------------------------------------------------
# 2. Further pre-financing: the 70% rule
# --------------------------------------------------------------------------


def test_exactly_70_percent_used_means_no_reduction() -> None:
    decision = further_prefinancing_amount(D("40000"), D("50000"), [], D("35000"))
    assert decision == PaymentDecision(
        planned=D("40000.00"),
        amount=D("40000.00"),
        reduction=D("0.00"),
        used_of_previous=D("35000.00"),
        threshold=D("35000.00"),
        explanation=decision.explanation,
    )
    assert "paid in full" in decision.explanation


def test_more_than_70_percent_used_means_no_reduction() -> None:
    decision = further_prefinancing_amount(D("40000"), D("50000"), [], D("45000"))
    assert decision.amount == D("40000.00")
    assert decision.reduction == D("0.00")


def test_less_than_70_percent_used_reduces_by_the_difference() -> None:
    # 70% of 50,000 = 35,000; 30,000 used; reduction 5,000.
    decision = further_prefinancing_amount(D("40000"), D("50000"), [], D("30000"))
    assert decision.reduction == D("5000.00")
    assert decision.amount == D("35000.00")
    assert decision.used_of_previous == D("30000.00")
    assert decision.threshold == D("35000.00")
    for figure in ("EUR 30,000.00", "EUR 35,000.00", "EUR 5,000.00", "EUR 40,000.00"):
        assert figure in decision.explanation
    assert "Less than 70%" in decision.explanation


def test_one_cent_short_of_70_percent_reduces_by_one_cent() -> None:
    # 70% of 10,000.05 = 7,000.035 -> 7,000.04 (half up).
    decision = further_prefinancing_amount(D("8000"), D("10000.05"), [], D("7000.03"))
    assert decision.threshold == D("7000.04")
    assert decision.reduction == D("0.01")
    assert decision.amount == D("7999.99")


def test_earlier_payments_are_absorbed_first() -> None:
    # 60,000 spent: 50,000 absorbs the earlier payment, 10,000 of the previous
    # 30,000 was used; 70% of it is 21,000; reduction 11,000.
    decision = further_prefinancing_amount(D("30000"), D("30000"), [D("50000")], D("60000"))
    assert decision.used_of_previous == D("10000.00")
    assert decision.threshold == D("21000.00")
    assert decision.reduction == D("11000.00")
    assert decision.amount == D("19000.00")


def test_several_earlier_payments_are_added_up() -> None:
    decision = further_prefinancing_amount(
        D("30000"), D("30000"), [D("20000"), D("30000")], D("71000")
    )
    assert decision.used_of_previous == D("21000.00")
    assert decision.reduction == D("0.00")
    assert decision.amount == D("30000.00")


def test_earlier_payments_not_fully_used_means_nothing_of_the_previous_was_used() -> None:
    decision = further_prefinancing_amount(D("30000"), D("30000"), [D("50000")], D("40000"))
    assert decision.used_of_previous == D("0.00")
    assert decision.reduction == D("21000.00")
    assert decision.amount == D("9000.00")
    assert "not fully used" in decision.explanation


def test_amount_never_goes_below_zero() -> None:
    # Shortfall 35,000 against a planned 10,000: nothing is paid.
    decision = further_prefinancing_amount(D("10000"), D("50000"), [], D("0"))
    assert decision.amount == D("0.00")
    assert decision.reduction == D("10000.00")
    assert "EUR 35,000.00" in decision.explanation
    assert "nothing is paid" in decision.explanation


def test_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="expenditure"):
        further_prefinancing_amount(D("1000"), D("1000"), [], D("-1"))
    with pytest.raises(ValueError, match="earlier payments"):
        further_prefinancing_amount(D("1000"), D("1000"), [D("-5")], D("0"))


@given(
    planned=st.decimals(min_value=0, max_value=D("1000000"), places=2),
    previous=st.decimals(min_value=0, max_value=D("1000000"), places=2),
    earlier=st.lists(st.decimals(min_value=0, max_value=D("1000000"), places=2), max_size=3),
    expenditure=st.decimals(min_value=0, max_value=D("5000000"), places=2),
)
def test_further_prefinancing_stays_between_zero_and_planned(
    planned: Decimal, previous: Decimal, earlier: list[Decimal], expenditure: Decimal
) -> None:
    decision = further_prefinancing_amount(planned, previous, earlier, expenditure)
    assert D("0") <= decision.amount <= planned
    assert decision.amount + decision.reduction == planned
    if decision.used_of_previous >= decision.threshold:
        assert decision.reduction == 0


# --------------------------------------------------------------------------
# 3. Final balance or recovery
# --------------------------------------------------------------------------


def test_balance_is_final_grant_less_payments() -> None:
    # 110,000 x 90% = 99,000 (below the 100,000 maximum); 80,000 paid.
    decision = final_balance(D("100000"), D("110000"), D("0.9"), D("80000"))
    assert decision == BalanceDecision(
        final_grant=D("99000.00"),
        paid_so_far=D("80000.00"),
        balance=D("19000.00"),
        recovery=D("0.00"),
        ceiling_problems=(),
        explanation=decision.explanation,
    )
    assert "Balance to pay: EUR 19,000.00" in decision.explanation
    assert "90%" in decision.explanation


def test_final_grant_is_capped_at_the_grant_amount() -> None:
    # 120,000 x 90% = 108,000, capped at 100,000.
    decision = final_balance(D("100000"), D("120000"), D("0.9"), D("80000"))
    assert decision.final_grant == D("100000.00")
    assert decision.balance == D("20000.00")
    assert "capped" in decision.explanation


def test_overpayment_gives_a_recovery_order_and_no_balance() -> None:
    # 80,000 x 90% = 72,000 but 80,000 was paid: recover 8,000.
    decision = final_balance(D("100000"), D("80000"), D("0.9"), D("80000"))
    assert decision.final_grant == D("72000.00")
    assert decision.balance == D("0.00")
    assert decision.recovery == D("8000.00")
    assert "recovery order of EUR 8,000.00" in decision.explanation


def test_paid_exactly_the_final_grant_gives_neither_balance_nor_recovery() -> None:
    decision = final_balance(D("100000"), D("80000"), D("0.9"), D("72000"))
    assert decision.balance == D("0.00")
    assert decision.recovery == D("0.00")


def test_final_grant_rounds_half_up_to_cents() -> None:
    # 33,333.33 x 85% = 28,333.3305 -> 28,333.33; 0.5 x 0.01 -> 0.005 -> 0.01.
    assert final_balance(D("50000"), D("33333.33"), D("0.85"), D("0")).balance == D("28333.33")
    assert final_balance(D("50000"), D("0.01"), D("0.5"), D("0")).final_grant == D("0.01")


def test_prefinancing_ceiling_check() -> None:
    assert check_prefinancing_ceiling(D("100000"), D("90000")) == []
    problems = check_prefinancing_ceiling(D("100000"), D("90000.01"))
    assert len(problems) == 1
    assert "EUR 90,000.01" in problems[0]
    assert "EUR 0.01" in problems[0]


def test_balance_reports_a_breached_prefinancing_ceiling() -> None:
    ok = final_balance(D("100000"), D("100000"), D("1"), D("90000"))
    assert ok.ceiling_problems == ()
    breached = final_balance(D("100000"), D("100000"), D("1"), D("95000"))
    assert len(breached.ceiling_problems) == 1
    assert "EUR 90,000.00" in breached.ceiling_problems[0]
    assert breached.balance == D("5000.00")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((D("100000"), D("-1"), D("0.9"), D("0")), "eligible costs"),
        ((D("100000"), D("1000"), D("0"), D("0")), "funding rate"),
        ((D("100000"), D("1000"), D("1.01"), D("0")), "funding rate"),
        ((D("0"), D("1000"), D("0.9"), D("0")), "grant amount"),
        ((D("100000"), D("1000"), D("0.9"), D("-1")), "paid"),
    ],
)
def test_invalid_balance_inputs_are_refused(
    args: tuple[Decimal, Decimal, Decimal, Decimal], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        final_balance(*args)


@given(
    costs=st.decimals(min_value=0, max_value=D("2000000"), places=2),
    rate=st.decimals(min_value=D("0.01"), max_value=D("1"), places=2),
    paid=st.decimals(min_value=0, max_value=D("1000000"), places=2),
)
def test_balance_minus_recovery_is_final_grant_minus_paid(
    costs: Decimal, rate: Decimal, paid: Decimal
) -> None:
    decision = final_balance(D("1000000"), costs, rate, paid)
    assert decision.final_grant <= D("1000000")
    assert decision.balance - decision.recovery == decision.final_grant - paid
    assert min(decision.balance, decision.recovery) == 0


# --------------------------------------------------------------------------
# 4. Budget transfers by notification
# --------------------------------------------------------------------------

BUDGET = {
    "staff": D("100000"),  # 25% = 25,000
    "travel": D("20000"),  # 25% = 5,000
    "equipment": D("40000"),  # 25% = 10,000
    "new_item": D("0"),
}


def test_small_transfer_is_allowed_by_notification() -> None:
    assert check_budget_transfer(BUDGET, [], Transfer("staff", "travel", D("1000"))) == []


def test_several_transfers_adding_up_to_exactly_25_percent_are_allowed() -> None:
    earlier = [Transfer("staff", "travel", D("2000")), Transfer("staff", "travel", D("2000"))]
    assert check_budget_transfer(BUDGET, earlier, Transfer("staff", "travel", D("1000"))) == []


def test_one_cent_over_25_percent_needs_an_addendum() -> None:
    earlier = [Transfer("staff", "travel", D("2000")), Transfer("staff", "travel", D("2000"))]
    reasons = check_budget_transfer(BUDGET, earlier, Transfer("staff", "travel", D("1000.01")))
    assert len(reasons) == 1
    assert "'travel'" in reasons[0]
    assert "increase of EUR 5,000.01" in reasons[0]
    assert "EUR 5,000.00" in reasons[0]
    assert "by EUR 0.01" in reasons[0]
    assert "addendum" in reasons[0]


def test_outgoing_transfers_count_against_the_source_heading() -> None:
    earlier = [
        Transfer("equipment", "staff", D("6000")),
        Transfer("equipment", "travel", D("3000")),
    ]
    assert check_budget_transfer(BUDGET, earlier, Transfer("equipment", "staff", D("1000"))) == []
    reasons = check_budget_transfer(BUDGET, earlier, Transfer("equipment", "staff", D("1000.01")))
    assert len(reasons) == 1
    assert "'equipment'" in reasons[0]
    assert "decrease of EUR 10,000.01" in reasons[0]


def test_incoming_and_outgoing_transfers_both_count_against_the_same_heading() -> None:
    # travel receives 4,000 from staff, then receives 1,000.01 more from equipment:
    # what counts is the heading's total variation, whoever the counterpart was.
    earlier = [Transfer("staff", "travel", D("4000"))]
    reasons = check_budget_transfer(BUDGET, earlier, Transfer("equipment", "travel", D("1000.01")))
    assert len(reasons) == 1
    assert "'travel'" in reasons[0]


def test_variation_is_net_a_heading_brought_back_has_its_margin_back() -> None:
    earlier = [Transfer("travel", "staff", D("5000")), Transfer("staff", "travel", D("5000"))]
    assert check_budget_transfer(BUDGET, earlier, Transfer("travel", "equipment", D("5000"))) == []
    reasons = check_budget_transfer(BUDGET, earlier, Transfer("travel", "equipment", D("5000.01")))
    assert len(reasons) == 1
    assert "'travel'" in reasons[0]


def test_both_headings_over_the_limit_give_two_reasons() -> None:
    reasons = check_budget_transfer(BUDGET, [], Transfer("travel", "equipment", D("12000")))
    assert len(reasons) == 2
    assert "'travel'" in reasons[0]
    assert "decrease of EUR 12,000.00" in reasons[0]
    assert "'equipment'" in reasons[1]
    assert "increase of EUR 12,000.00" in reasons[1]


def test_limit_is_against_the_original_amount_of_the_heading() -> None:
    # 6,000 is 6% of staff but 30% of travel: only travel is over.
    reasons = check_budget_transfer(BUDGET, [], Transfer("staff", "travel", D("6000")))
    assert len(reasons) == 1
    assert "'travel'" in reasons[0]


def test_heading_with_no_original_amount_cannot_be_fed_by_notification() -> None:
    reasons = check_budget_transfer(BUDGET, [], Transfer("staff", "new_item", D("0.01")))
    assert len(reasons) == 1
    assert "'new_item'" in reasons[0]


def test_unknown_headings_are_refused() -> None:
    reasons = check_budget_transfer(BUDGET, [], Transfer("catering", "staff", D("100")))
    assert reasons == ["Unknown source heading 'catering': it is not in the original budget."]
    reasons = check_budget_transfer(BUDGET, [], Transfer("staff", "catering", D("100")))
    assert reasons == ["Unknown destination heading 'catering': it is not in the original budget."]


def test_unknown_heading_does_not_hide_the_limit_on_the_known_one() -> None:
    reasons = check_budget_transfer(BUDGET, [], Transfer("travel", "catering", D("6000")))
    assert len(reasons) == 2
    assert "Unknown destination heading" in reasons[0]
    assert "'travel'" in reasons[1]


@pytest.mark.parametrize("amount", [D("0"), D("-100")])
def test_non_positive_amounts_are_refused(amount: Decimal) -> None:
    reasons = check_budget_transfer(BUDGET, [], Transfer("staff", "travel", amount))
    assert len(reasons) == 1
    assert "must be positive" in reasons[0]


def test_same_heading_transfer_is_refused() -> None:
    reasons = check_budget_transfer(BUDGET, [], Transfer("staff", "staff", D("100")))
    assert reasons == ["A transfer from heading 'staff' to itself is not a transfer."]


def test_all_structural_reasons_are_given_together() -> None:
    reasons = check_budget_transfer(BUDGET, [], Transfer("catering", "catering", D("0")))
    assert len(reasons) == 4


def test_invalid_earlier_transfer_raises() -> None:
    with pytest.raises(ValueError, match="unknown heading"):
        check_budget_transfer(
            BUDGET, [Transfer("catering", "staff", D("1"))], Transfer("staff", "travel", D("1"))
        )


# --------------------------------------------------------------------------
# 5. Amounts in words
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (D("0"), "zero euros"),
        (D("1"), "one euro"),
        (D("0.01"), "one cent"),
        (D("0.50"), "fifty cents"),
        (D("15"), "fifteen euros"),
        (D("71"), "seventy-one euros"),
        (D("80"), "eighty euros"),
        (D("91"), "ninety-one euros"),
        (D("100"), "one hundred euros"),
        (D("200"), "two hundred euros"),
        (D("101"), "one hundred and one euros"),
        (D("1000"), "one thousand euros"),
        (D("1005"), "one thousand and five euros"),
        (D("2500"), "two thousand five hundred euros"),
        (D("120000"), "one hundred and twenty thousand euros"),
        (D("1000000"), "one million euros"),
        (D("2000050"), "two million and fifty euros"),
        (D("1.01"), "one euro and one cent"),
        (
            D("121345.50"),
            "one hundred and twenty-one thousand three hundred and forty-five euros"
            " and fifty cents",
        ),
        (
            D("999999999.99"),
            "nine hundred and ninety-nine million nine hundred and ninety-nine thousand"
            " nine hundred and ninety-nine euros and ninety-nine cents",
        ),
    ],
)
def test_amount_in_words_english(amount: Decimal, words: str) -> None:
    assert amount_in_words(amount, "en") == words


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (D("0"), "zéro euro"),
        (D("1"), "un euro"),
        (D("0.01"), "un centime"),
        (D("0.50"), "cinquante centimes"),
        (D("17"), "dix-sept euros"),
        (D("21"), "vingt et un euros"),
        (D("22"), "vingt-deux euros"),
        (D("61"), "soixante et un euros"),
        (D("70"), "soixante-dix euros"),
        (D("71"), "soixante et onze euros"),
        (D("72"), "soixante-douze euros"),
        (D("80"), "quatre-vingts euros"),
        (D("81"), "quatre-vingt-un euros"),
        (D("90"), "quatre-vingt-dix euros"),
        (D("91"), "quatre-vingt-onze euros"),
        (D("99"), "quatre-vingt-dix-neuf euros"),
        (D("100"), "cent euros"),
        (D("101"), "cent un euros"),
        (D("180"), "cent quatre-vingts euros"),
        (D("200"), "deux cents euros"),
        (D("201"), "deux cent un euros"),
        (D("1000"), "mille euros"),
        (D("1001"), "mille un euros"),
        (D("2000"), "deux mille euros"),
        (D("21000"), "vingt et un mille euros"),
        (D("80000"), "quatre-vingt mille euros"),
        (D("120000"), "cent vingt mille euros"),
        (D("200000"), "deux cent mille euros"),
        (D("1000000"), "un million d'euros"),
        (D("2000000"), "deux millions d'euros"),
        (D("80000000"), "quatre-vingts millions d'euros"),
        (D("200000000"), "deux cents millions d'euros"),
        (D("1200000"), "un million deux cent mille euros"),
        (D("1000000.50"), "un million d'euros et cinquante centimes"),
        (D("1.01"), "un euro et un centime"),
        (
            D("121345.50"),
            "cent vingt et un mille trois cent quarante-cinq euros et cinquante centimes",
        ),
        (
            D("999999999.99"),
            "neuf cent quatre-vingt-dix-neuf millions neuf cent quatre-vingt-dix-neuf mille"
            " neuf cent quatre-vingt-dix-neuf euros et quatre-vingt-dix-neuf centimes",
        ),
    ],
)
def test_amount_in_words_french(amount: Decimal, words: str) -> None:
    assert amount_in_words(amount, "fr") == words


def test_amount_in_words_defaults_to_english_and_rounds_to_cents() -> None:
    assert amount_in_words(D("2.005")) == "two euros and one cent"


@pytest.mark.parametrize("amount", [D("1000000000"), D("-0.01")])
def test_amount_in_words_out_of_range(amount: Decimal) -> None:
    with pytest.raises(ValueError, match=r"999,999,999\.99"):
        amount_in_words(amount, "fr")


def test_amount_in_words_unknown_language() -> None:
    with pytest.raises(ValueError, match="language"):
        amount_in_words(D("10"), "de")  # type: ignore[arg-type]


def test_amount_in_words_refuses_floats() -> None:
    with pytest.raises(TypeError):
        amount_in_words(12.5, "en")  # type: ignore[arg-type]
