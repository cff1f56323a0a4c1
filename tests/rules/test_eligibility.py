import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grants.rules.eligibility import (
    Applicant,
    CallRules,
    Country,
    Failure,
    Proposal,
    check_applicant,
    check_proposal,
    format_eur,
)

D = Decimal

SENEGAL = Country("SN", au_member=True, eu_member=False)
MALI = Country("ML", au_member=True, eu_member=False)
MOROCCO = Country("MA", au_member=True, eu_member=False)
KENYA = Country("KE", au_member=True, eu_member=False)
GERMANY = Country("DE", au_member=False, eu_member=True)
FRANCE = Country("FR", au_member=False, eu_member=True)
NORWAY = Country("NO", au_member=False, eu_member=False)
CANADA = Country("CA", au_member=False, eu_member=False)

MMD = CallRules.mmd_second_call()
# A call with co-financing and a closed list of applicant countries.
STRICT = replace(
    MMD,
    max_funding_rate=D("0.9"),
    eligible_countries=frozenset({"SN", "ML", "DE", "FR"}),
)


def cso(country: Country, name: str = "Org") -> Applicant:
    return Applicant(organisation_type="cso", country=country, name=name)


def proposal(**changes: Any) -> Proposal:
    """A proposal that meets every rule of MMD and STRICT; override fields to break one."""
    base = Proposal(
        lead=cso(SENEGAL, "Dakar Migrants Forum"),
        co_applicants=(),
        requested_amount=D("120000.00"),
        total_cost=D("140000.00"),
        duration_months=6,
        countries=(SENEGAL, MALI),
        jvap_domains=("legal_migration",),
        dialogues=("rabat",),
        attachment_kinds=("registration_certificate", "budget_annex"),
    )
    return replace(base, **changes)


def codes(failures: list[Failure]) -> list[str]:
    return [f.code for f in failures]


def only(failures: list[Failure], code: str) -> Failure:
    matching = [f for f in failures if f.code == code]
    assert len(matching) == 1, codes(failures)
    return matching[0]


def test_valid_proposal_has_no_failures() -> None:
    assert check_proposal(MMD, proposal()) == []
    assert check_proposal(STRICT, proposal()) == []


# --- the real call ---------------------------------------------------------


def test_mmd_second_call_rules() -> None:
    assert MMD.grant_min == D("100000")
    assert MMD.grant_max == D("150000")
    assert MMD.duration_min_months == 6
    assert MMD.duration_max_months == 6
    assert MMD.max_countries == 3
    assert MMD.require_au_country is True
    assert MMD.max_co_applicants == 1
    assert MMD.eu_lead_needs_au_co_applicant is True
    assert MMD.eligible_applicant_types == frozenset({"cso", "local_authority", "diaspora"})
    assert MMD.require_jvap_domain is True
    assert MMD.require_dialogue is True
    assert MMD.max_funding_rate == D("1")
    assert MMD.eligible_countries is None
    assert MMD.mandatory_attachments == ("registration_certificate", "budget_annex")


# --- amount ----------------------------------------------------------------


@pytest.mark.parametrize("amount", ["100000.00", "100000", "125000.50", "150000.00"])
def test_amount_within_range_passes(amount: str) -> None:
    failures = check_proposal(MMD, proposal(requested_amount=D(amount), total_cost=D("200000")))
    assert failures == []


def test_amount_one_cent_below_minimum_fails() -> None:
    failures = check_proposal(MMD, proposal(requested_amount=D("99999.99")))
    assert codes(failures) == ["amount_out_of_range"]
    assert failures[0].params == {
        "amount": "99999.99",
        "minimum": "100000.00",
        "maximum": "150000.00",
    }
    assert failures[0].message == (
        "The requested amount EUR 99,999.99 is below the minimum of EUR 100,000.00."
    )
    assert "at least EUR 100,000.00" in failures[0].fix


def test_amount_below_minimum_message() -> None:
    failure = only(
        check_proposal(MMD, proposal(requested_amount=D("90000"))), "amount_out_of_range"
    )
    assert failure.message == (
        "The requested amount EUR 90,000.00 is below the minimum of EUR 100,000.00."
    )


def test_amount_one_cent_above_maximum_fails() -> None:
    failures = check_proposal(
        MMD, proposal(requested_amount=D("150000.01"), total_cost=D("200000"))
    )
    assert codes(failures) == ["amount_out_of_range"]
    assert failures[0].params["amount"] == "150000.01"
    assert failures[0].message == (
        "The requested amount EUR 150,000.01 is above the maximum of EUR 150,000.00."
    )
    assert "at most EUR 150,000.00" in failures[0].fix


def test_sub_cent_excess_is_shown_not_rounded_away() -> None:
    failure = only(
        check_proposal(MMD, proposal(requested_amount=D("150000.001"), total_cost=D("200000"))),
        "amount_out_of_range",
    )
    assert "EUR 150,000.001 is above" in failure.message


def test_missing_amount_is_reported() -> None:
    failures = check_proposal(MMD, proposal(requested_amount=None))
    assert codes(failures) == ["missing_amount"]
    assert "between EUR 100,000.00 and EUR 150,000.00" in failures[0].fix


def test_non_finite_amount_is_reported_not_raised() -> None:
    failures = check_proposal(MMD, proposal(requested_amount=D("NaN")))
    assert codes(failures) == ["invalid_amount"]


# --- funding rate ----------------------------------------------------------


@pytest.mark.parametrize("amount", ["100000.00", "135000.00"])
def test_funding_rate_at_or_below_maximum_passes(amount: str) -> None:
    # 90% of 150,000 = 135,000
    failures = check_proposal(STRICT, proposal(requested_amount=D(amount), total_cost=D("150000")))
    assert failures == []


def test_funding_rate_one_cent_over_fails() -> None:
    failures = check_proposal(
        STRICT, proposal(requested_amount=D("135000.01"), total_cost=D("150000"))
    )
    assert codes(failures) == ["funding_rate_exceeded"]
    failure = failures[0]
    assert failure.params == {
        "requested_amount": "135000.01",
        "total_cost": "150000",
        "funding_rate": "0.9000",
        "max_funding_rate": "0.9",
        "max_amount": "135000.00",
    }
    assert "EUR 135,000.01" in failure.message
    assert "EUR 150,000.00" in failure.message
    assert "at most 90%" in failure.message
    assert "at most EUR 135,000.00" in failure.fix
    # 135,000.01 / 0.9 = 150,000.0111..., rounded up to the cent
    assert "at least EUR 150,000.02" in failure.fix


def test_funding_rate_message_names_the_share() -> None:
    failure = only(
        check_proposal(STRICT, proposal(requested_amount=D("140000"), total_cost=D("150000"))),
        "funding_rate_exceeded",
    )
    assert failure.message == (
        "The requested amount EUR 140,000.00 is 93.33% of the total eligible cost of "
        "EUR 150,000.00; the grant may cover at most 90% (EUR 135,000.00)."
    )


def test_without_co_financing_the_grant_may_cover_the_whole_cost() -> None:
    same = proposal(requested_amount=D("120000"), total_cost=D("120000"))
    assert check_proposal(MMD, same) == []
    over = proposal(requested_amount=D("120000.01"), total_cost=D("120000"))
    failure = only(check_proposal(MMD, over), "funding_rate_exceeded")
    assert failure.message == (
        "The requested amount EUR 120,000.01 is more than the total eligible cost of "
        "EUR 120,000.00."
    )


def test_missing_or_invalid_total_cost_is_reported() -> None:
    assert codes(check_proposal(MMD, proposal(total_cost=None))) == ["missing_total_cost"]
    assert codes(check_proposal(MMD, proposal(total_cost=D("0")))) == ["invalid_total_cost"]


# --- duration --------------------------------------------------------------


def test_duration_exactly_six_months_passes() -> None:
    assert check_proposal(MMD, proposal(duration_months=6)) == []


@pytest.mark.parametrize("months", [0, 5, 7, 24])
def test_duration_other_than_six_months_fails(months: int) -> None:
    failures = check_proposal(MMD, proposal(duration_months=months))
    assert codes(failures) == ["duration_out_of_range"]
    assert failures[0].params == {"duration": months, "minimum": 6, "maximum": 6}
    assert "6 months" in failures[0].message


def test_duration_range_boundaries() -> None:
    rules = replace(MMD, duration_min_months=3, duration_max_months=12)
    assert check_proposal(rules, proposal(duration_months=3)) == []
    assert check_proposal(rules, proposal(duration_months=12)) == []
    below = check_proposal(rules, proposal(duration_months=2))
    assert codes(below) == ["duration_out_of_range"]
    assert below[0].message == "The duration of 2 months is below the minimum of 3 months."
    above = check_proposal(rules, proposal(duration_months=13))
    assert above[0].message == "The duration of 13 months is above the maximum of 12 months."


def test_missing_duration_is_reported() -> None:
    assert codes(check_proposal(MMD, proposal(duration_months=None))) == ["missing_duration"]


# --- countries of implementation -------------------------------------------


def test_exactly_max_countries_passes() -> None:
    assert check_proposal(MMD, proposal(countries=(SENEGAL, MALI, GERMANY))) == []


def test_one_country_too_many_fails() -> None:
    failures = check_proposal(MMD, proposal(countries=(SENEGAL, MALI, GERMANY, KENYA)))
    assert codes(failures) == ["too_many_countries"]
    assert failures[0].params == {
        "countries": ["DE", "KE", "ML", "SN"],
        "count": 4,
        "maximum": 3,
    }
    assert "4 countries" in failures[0].message
    assert "at most 3" in failures[0].message


def test_a_repeated_country_counts_once() -> None:
    assert check_proposal(MMD, proposal(countries=(SENEGAL, SENEGAL, MALI, MALI))) == []


def test_no_au_country_fails() -> None:
    failures = check_proposal(MMD, proposal(countries=(GERMANY, NORWAY)))
    assert codes(failures) == ["no_au_country"]
    assert failures[0].params == {"countries": ["DE", "NO"]}


def test_one_au_country_among_others_passes() -> None:
    assert check_proposal(MMD, proposal(countries=(GERMANY, NORWAY, MOROCCO))) == []


def test_au_country_not_required_when_rule_is_off() -> None:
    rules = replace(MMD, require_au_country=False)
    assert check_proposal(rules, proposal(countries=(GERMANY, NORWAY))) == []


def test_no_country_reports_both_missing_countries_and_no_au_country() -> None:
    failures = check_proposal(MMD, proposal(countries=()))
    assert codes(failures) == ["missing_countries", "no_au_country"]


# --- co-applicants and the EU-lead rule ------------------------------------


def test_one_co_applicant_passes() -> None:
    assert check_proposal(MMD, proposal(co_applicants=(cso(MALI),))) == []


def test_two_co_applicants_fail() -> None:
    failures = check_proposal(MMD, proposal(co_applicants=(cso(MALI), cso(KENYA))))
    assert codes(failures) == ["too_many_co_applicants"]
    assert failures[0].params == {"co_applicants": 2, "maximum": 1}
    assert failures[0].message == (
        "The proposal has 2 co-applicants; the call allows at most 1 co-applicant."
    )


def test_single_applicant_call_refuses_any_co_applicant() -> None:
    rules = replace(MMD, max_co_applicants=0)
    failures = check_proposal(rules, proposal(co_applicants=(cso(MALI),)))
    assert codes(failures) == ["too_many_co_applicants"]
    assert "no co-applicants" in failures[0].message


def test_eu_lead_without_co_applicant_fails() -> None:
    failures = check_proposal(MMD, proposal(lead=cso(GERMANY, "Berlin Org")))
    assert codes(failures) == ["eu_lead_without_au_co_applicant"]
    assert failures[0].params == {"lead_country": "DE"}
    assert "Berlin Org" in failures[0].message
    assert "African Union" in failures[0].fix


def test_eu_lead_with_non_au_co_applicant_fails() -> None:
    for partner in (FRANCE, NORWAY):
        failures = check_proposal(MMD, proposal(lead=cso(GERMANY), co_applicants=(cso(partner),)))
        assert codes(failures) == ["eu_lead_without_au_co_applicant"]


def test_eu_lead_with_au_co_applicant_passes() -> None:
    assert check_proposal(MMD, proposal(lead=cso(GERMANY), co_applicants=(cso(SENEGAL),))) == []


def test_eu_diaspora_lead_needs_no_au_co_applicant() -> None:
    diaspora = Applicant(organisation_type="diaspora", country=GERMANY, name="Diaspora eV")
    assert check_proposal(MMD, proposal(lead=diaspora)) == []
    # the exemption is for diaspora organisations only
    local_authority = replace(diaspora, organisation_type="local_authority")
    assert codes(check_proposal(MMD, proposal(lead=local_authority))) == [
        "eu_lead_without_au_co_applicant"
    ]


def test_non_eu_lead_needs_no_au_co_applicant() -> None:
    assert check_proposal(MMD, proposal(lead=cso(NORWAY))) == []


def test_eu_lead_rule_off() -> None:
    rules = replace(MMD, eu_lead_needs_au_co_applicant=False)
    assert check_proposal(rules, proposal(lead=cso(GERMANY))) == []


# --- applicant type and country --------------------------------------------


@pytest.mark.parametrize("org_type", ["cso", "local_authority", "diaspora"])
def test_eligible_applicant_types_pass(org_type: str) -> None:
    applicant = Applicant(organisation_type=org_type, country=SENEGAL, name="A")
    assert check_applicant(MMD, applicant) == []


def test_ineligible_applicant_type_fails() -> None:
    applicant = Applicant(organisation_type="private_company", country=SENEGAL, name="Acme")
    failures = check_applicant(MMD, applicant)
    assert codes(failures) == ["applicant_type_not_eligible"]
    assert failures[0].params == {
        "role": "applicant",
        "applicant": "Acme",
        "organisation_type": "private_company",
        "eligible_types": ["cso", "diaspora", "local_authority"],
    }
    assert "Acme" in failures[0].message
    assert "local authority" in failures[0].fix


def test_type_restricted_call() -> None:
    rules = replace(MMD, eligible_applicant_types=frozenset({"cso"}))
    la = Applicant(organisation_type="local_authority", country=SENEGAL, name="Commune")
    assert codes(check_applicant(rules, la)) == ["applicant_type_not_eligible"]


def test_missing_applicant_type_is_reported() -> None:
    applicant = Applicant(organisation_type=" ", country=SENEGAL, name="A")
    assert codes(check_applicant(MMD, applicant)) == ["missing_applicant_type"]


def test_applicant_country_checked_only_when_the_call_restricts_it() -> None:
    assert check_applicant(MMD, cso(CANADA)) == []
    failures = check_applicant(STRICT, cso(CANADA, "Toronto Org"))
    assert codes(failures) == ["applicant_country_not_eligible"]
    assert failures[0].params["country"] == "CA"
    assert failures[0].params["eligible_countries"] == ["DE", "FR", "ML", "SN"]
    assert "CA" in failures[0].message
    assert check_applicant(STRICT, cso(SENEGAL)) == []


def test_applicant_country_code_case_is_ignored() -> None:
    assert check_applicant(STRICT, cso(Country("sn", au_member=True, eu_member=False))) == []


def test_missing_applicant_country_is_reported() -> None:
    blank = Country("", au_member=False, eu_member=False)
    assert codes(check_applicant(STRICT, cso(blank))) == ["missing_applicant_country"]


def test_check_applicant_reports_type_and_country_together() -> None:
    applicant = Applicant(organisation_type="company", country=CANADA, name="X")
    assert codes(check_applicant(STRICT, applicant)) == [
        "applicant_type_not_eligible",
        "applicant_country_not_eligible",
    ]


def test_co_applicant_type_and_country_are_checked() -> None:
    co = Applicant(organisation_type="company", country=CANADA, name="Partner Ltd")
    failures = check_proposal(STRICT, proposal(co_applicants=(co,)))
    assert codes(failures) == ["applicant_type_not_eligible", "applicant_country_not_eligible"]
    assert all(f.params["role"] == "co_applicant" for f in failures)
    assert failures[0].message.startswith("The co-applicant Partner Ltd")


def test_lead_failures_come_before_co_applicant_failures() -> None:
    lead = Applicant(organisation_type="company", country=SENEGAL, name="Lead")
    co = Applicant(organisation_type="company", country=MALI, name="Co")
    failures = check_proposal(MMD, proposal(lead=lead, co_applicants=(co,)))
    assert [(f.code, f.params["role"]) for f in failures] == [
        ("applicant_type_not_eligible", "lead"),
        ("applicant_type_not_eligible", "co_applicant"),
    ]


# --- JVAP domain, dialogue, attachments ------------------------------------


@pytest.mark.parametrize("domains", [(), ("",), ("  ",)])
def test_no_jvap_domain_fails(domains: tuple[str, ...]) -> None:
    assert codes(check_proposal(MMD, proposal(jvap_domains=domains))) == ["no_jvap_domain"]


def test_no_jvap_domain_passes_when_not_required() -> None:
    rules = replace(MMD, require_jvap_domain=False)
    assert check_proposal(rules, proposal(jvap_domains=())) == []


def test_no_dialogue_fails() -> None:
    failures = check_proposal(MMD, proposal(dialogues=()))
    assert codes(failures) == ["no_dialogue"]
    assert "Rabat" in failures[0].fix


def test_several_dialogues_pass_and_rule_can_be_off() -> None:
    assert check_proposal(MMD, proposal(dialogues=("rabat", "c2cmmd"))) == []
    assert check_proposal(replace(MMD, require_dialogue=False), proposal(dialogues=())) == []


def test_each_missing_attachment_is_reported_in_rule_order() -> None:
    failures = check_proposal(MMD, proposal(attachment_kinds=("annual_report",)))
    assert codes(failures) == ["attachment_missing", "attachment_missing"]
    assert [f.params["kind"] for f in failures] == ["registration_certificate", "budget_annex"]
    assert failures[1].message == "The mandatory attachment budget annex is missing."


def test_one_missing_attachment() -> None:
    failures = check_proposal(MMD, proposal(attachment_kinds=("budget_annex", "cv")))
    assert [f.params["kind"] for f in failures] == ["registration_certificate"]


# --- several failures, drafts, stability -----------------------------------


def test_several_failures_are_reported_together_in_stable_order() -> None:
    bad = proposal(
        lead=cso(GERMANY),
        co_applicants=(cso(FRANCE), cso(NORWAY)),
        requested_amount=D("160000"),
        total_cost=D("150000"),
        duration_months=12,
        countries=(GERMANY, FRANCE, NORWAY, CANADA),
        jvap_domains=(),
        dialogues=(),
        attachment_kinds=(),
    )
    expected = [
        "too_many_co_applicants",
        "eu_lead_without_au_co_applicant",
        "amount_out_of_range",
        "funding_rate_exceeded",
        "duration_out_of_range",
        "too_many_countries",
        "no_au_country",
        "no_jvap_domain",
        "no_dialogue",
        "attachment_missing",
        "attachment_missing",
    ]
    assert codes(check_proposal(MMD, bad)) == expected
    # same input, same output; the order of countries given does not matter
    reordered = replace(bad, countries=tuple(reversed(bad.countries)))
    assert check_proposal(MMD, reordered) == check_proposal(MMD, bad)


def test_empty_draft_reports_every_missing_field_without_raising() -> None:
    nowhere = Country("", au_member=False, eu_member=False)
    draft = Proposal(lead=Applicant(organisation_type="", country=nowhere, name=""))
    failures = check_proposal(STRICT, draft)
    assert codes(failures) == [
        "missing_applicant_type",
        "missing_applicant_country",
        "missing_amount",
        "missing_total_cost",
        "missing_duration",
        "missing_countries",
        "no_au_country",
        "no_jvap_domain",
        "no_dialogue",
        "attachment_missing",
        "attachment_missing",
    ]
    for failure in failures:
        assert failure.message
        assert failure.fix
        json.dumps(failure.params)


def test_every_params_dict_is_json_serialisable() -> None:
    bad = proposal(
        lead=Applicant(organisation_type="company", country=CANADA, name="X"),
        requested_amount=D("160000"),
        total_cost=D("150000"),
        countries=(GERMANY, FRANCE, NORWAY, CANADA),
    )
    failures = check_proposal(STRICT, bad)
    assert len(failures) >= 5
    for failure in failures:
        assert json.loads(json.dumps(failure.params)) == failure.params


money = st.none() | st.decimals(
    min_value=-1_000_000, max_value=1_000_000, places=3, allow_nan=False
)
countries = st.builds(
    Country, st.sampled_from(["", "SN", "DE", "no", "CA"]), st.booleans(), st.booleans()
)
applicants = st.builds(
    Applicant, st.sampled_from(["", "cso", "diaspora", "company"]), countries, st.text(max_size=5)
)


@given(
    lead=applicants,
    co=st.lists(applicants, max_size=3),
    amount=money,
    total=money,
    duration=st.none() | st.integers(min_value=-5, max_value=60),
    where=st.lists(countries, max_size=5),
    domains=st.lists(st.sampled_from(["", "protection"]), max_size=2),
)
def test_any_draft_is_checked_without_raising(
    lead: Applicant,
    co: list[Applicant],
    amount: Decimal | None,
    total: Decimal | None,
    duration: int | None,
    where: list[Country],
    domains: list[str],
) -> None:
    draft = Proposal(
        lead=lead,
        co_applicants=tuple(co),
        requested_amount=amount,
        total_cost=total,
        duration_months=duration,
        countries=tuple(where),
        jvap_domains=tuple(domains),
    )
    for rules in (MMD, STRICT):
        failures = check_proposal(rules, draft)
        assert failures == check_proposal(rules, draft)
        for failure in failures:
            json.dumps(failure.params)
            assert failure.message.endswith(".")
            assert failure.fix.endswith(".")


# --- formatting ------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("100000", "EUR 100,000.00"),
        ("1234567.891", "EUR 1,234,567.891"),
        ("0.5", "EUR 0.50"),
        ("1E+5", "EUR 100,000.00"),
        ("99999.990", "EUR 99,999.99"),
    ],
)
def test_format_eur(amount: str, text: str) -> None:
    assert format_eur(D(amount)) == text


# --- rules as data ---------------------------------------------------------


def test_mmd_rules_to_dict() -> None:
    assert MMD.to_dict() == {
        "grant_min": "100000.00",
        "grant_max": "150000.00",
        "max_funding_rate": "1",
        "duration_min_months": 6,
        "duration_max_months": 6,
        "max_countries": 3,
        "require_au_country": True,
        "eu_lead_needs_au_co_applicant": True,
        "max_co_applicants": 1,
        "eligible_applicant_types": ["cso", "diaspora", "local_authority"],
        "eligible_countries": None,
        "require_jvap_domain": True,
        "require_dialogue": True,
        "mandatory_attachments": ["registration_certificate", "budget_annex"],
    }


@pytest.mark.parametrize("rules", [MMD, STRICT], ids=["mmd", "strict"])
def test_round_trip_through_json(rules: CallRules) -> None:
    data = json.loads(json.dumps(rules.to_dict()))
    restored = CallRules.from_dict(data)
    assert restored == rules
    assert restored.to_dict() == rules.to_dict()
    assert isinstance(restored.grant_min, Decimal)
    assert isinstance(restored.eligible_applicant_types, frozenset)
    assert isinstance(restored.mandatory_attachments, tuple)


def test_from_dict_accepts_integer_amounts() -> None:
    data = MMD.to_dict() | {"grant_min": 100000, "grant_max": 150000}
    assert CallRules.from_dict(data) == MMD


def _with(**changes: Any) -> dict[str, Any]:
    return MMD.to_dict() | changes


def _without(key: str) -> dict[str, Any]:
    data = MMD.to_dict()
    del data[key]
    return data


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "must be a JSON object"),
        (_with(deadline="2027-03-01"), "unknown keys in call rules: deadline"),
        (_without("max_countries"), "missing keys in call rules: max_countries"),
        (_with(grant_min=100000.0), "grant_min must be a decimal string"),
        (_with(grant_min="a lot"), "grant_min is not a decimal number"),
        (_with(grant_max="Infinity"), "grant_max must be a finite number"),
        (_with(grant_min=True), "grant_min must be a decimal string"),
        (_with(grant_min="0"), "grant_min must be positive"),
        (_with(grant_min="200000"), "grant_max (150000.00) must not be below grant_min"),
        (_with(max_funding_rate="0"), "max_funding_rate must be above 0 and at most 1"),
        (_with(max_funding_rate="1.1"), "max_funding_rate must be above 0 and at most 1"),
        (_with(duration_min_months="6"), "duration_min_months must be an integer"),
        (_with(duration_min_months=True), "duration_min_months must be an integer"),
        (_with(duration_min_months=0), "duration_min_months must be at least 1"),
        (_with(duration_max_months=5), "duration_max_months (5) must not be below"),
        (_with(max_countries=0), "max_countries must be at least 1"),
        (_with(max_co_applicants=-1), "max_co_applicants must not be negative"),
        (_with(require_au_country="yes"), "require_au_country must be true or false"),
        (_with(require_dialogue=1), "require_dialogue must be true or false"),
        (_with(eligible_applicant_types="cso"), "must be a list of strings"),
        (_with(eligible_applicant_types=[]), "must name at least one type"),
        (_with(eligible_applicant_types=["cso", "company"]), "unknown applicant types"),
        (_with(eligible_applicant_types=["cso", "cso"]), "must not contain duplicates"),
        (_with(eligible_countries=[]), "use None to accept any country"),
        (_with(eligible_countries=["sn"]), "upper-case ISO 3166 alpha-2"),
        (_with(eligible_countries=["SEN"]), "upper-case ISO 3166 alpha-2"),
        (_with(eligible_countries=[1]), "eligible_countries must be a list of strings"),
        (_with(mandatory_attachments=["cv", "cv"]), "must not contain duplicates"),
        (_with(mandatory_attachments=[""]), "must be non-empty strings"),
    ],
)
def test_from_dict_rejects_bad_data(data: Any, error: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        CallRules.from_dict(data)
    assert error in str(excinfo.value)


def test_constructor_validates_too() -> None:
    with pytest.raises(ValueError, match="must be a finite Decimal"):
        replace(MMD, grant_min=100000.0)
    with pytest.raises(ValueError, match="must be a frozenset"):
        replace(MMD, eligible_applicant_types={"cso"})
