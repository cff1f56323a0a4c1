"""Open-data exports: IATI 2.03 valid against the schema and its codelists, 360Giving
valid against the package schema, JVAP records, loading without a query per grant,
empty exports and the `export` commands.

The official schemas and codelists are in tests/standards/ (see its README).
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import referencing
import referencing.jsonschema
import xmlschema
from jsonschema import Draft202012Validator
from sqlalchemy import event, select

from grants.demo import create_demo_data
from grants.extensions import db
from grants.models import Application, Grant, Signature, User
from grants.services.actors import SYSTEM
from grants.services.transitions import transition
from reports.cli import export_cli
from reports.exports import (
    NothingToExport,
    Publisher,
    export_360giving,
    export_iati,
    export_jvap_csv,
    export_jvap_json,
    load_grants,
)
from reports.exports.data import equal_shares
from reports.exports.iati import budget_periods
from reports.exports.jvap import FIELDS
from workflows.definitions import GRANT

STANDARDS = Path(__file__).parent / "standards"
CODELISTS = STANDARDS / "iati" / "codelists"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
GRANT_SCHEMA_URIS = (
    "https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.3/schema/360-giving-schema.json",
    "https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.2/schema/360-giving-schema.json",
)

# Which attribute of which element holds a code of which IATI codelist.
# Sector codes are checked apart: their list depends on the vocabulary.
CODED_ATTRIBUTES: list[tuple[str, str, str]] = [
    ("iati-activity", "default-currency", "Currency"),
    ("iati-activity", XML_LANG, "Language"),
    ("reporting-org", "type", "OrganisationType"),
    ("participating-org", "role", "OrganisationRole"),
    ("participating-org", "type", "OrganisationType"),
    ("provider-org", "type", "OrganisationType"),
    ("receiver-org", "type", "OrganisationType"),
    ("narrative", XML_LANG, "Language"),
    ("description", "type", "DescriptionType"),
    ("activity-status", "code", "ActivityStatus"),
    ("activity-date", "type", "ActivityDateType"),
    ("recipient-country", "code", "Country"),
    ("sector", "vocabulary", "SectorVocabulary"),
    ("default-flow-type", "code", "FlowType"),
    ("default-finance-type", "code", "FinanceType"),
    ("default-aid-type", "code", "AidType"),
    ("budget", "type", "BudgetType"),
    ("budget", "status", "BudgetStatus"),
    ("value", "currency", "Currency"),
    ("transaction-type", "code", "TransactionType"),
    ("category", "code", "DocumentCategory"),
    ("language", "code", "Language"),
]


# --- the standards ---------------------------------------------------------------


@cache
def iati_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(STANDARDS / "iati" / "iati-activities-schema.xsd"))


@cache
def codelist(name: str) -> frozenset[str]:
    """The codes of an IATI codelist still in use (withdrawn codes left out)."""
    root = ET.parse(CODELISTS / f"{name}.xml").getroot()  # noqa: S314 (our own copy)
    return frozenset(
        item.findtext("code", "").strip()
        for item in root.iter("codelist-item")
        if item.get("status", "active") != "withdrawn"
    )


def iati_errors(document: bytes) -> list[str]:
    return [str(e) for e in iati_schema().iter_errors(document.decode("utf-8"))]


def codelist_errors(document: bytes) -> list[str]:
    """Every coded value in the document that its codelist does not hold, and
    any coded attribute this table does not know (so nothing slips by unchecked)."""
    root = ET.fromstring(document)  # noqa: S314 (we generated it)
    errors = []
    known = {(tag, attribute) for tag, attribute, _ in CODED_ATTRIBUTES}
    for tag, attribute, name in CODED_ATTRIBUTES:
        for element in root.iter(tag):
            value = element.get(attribute)
            if value is not None and value not in codelist(name):
                errors.append(f"{tag}/@{attribute}={value!r} is not in {name}")
    for sector in root.iter("sector"):
        if sector.get("vocabulary", "1") == "1" and sector.get("code") not in codelist("Sector"):
            errors.append(f"sector code {sector.get('code')!r} is not in Sector")
        if sector.get("vocabulary") in ("98", "99") and not sector.get("vocabulary-uri"):
            errors.append("a reporting organisation's own sector vocabulary needs its URI")
    for element in root.iter():
        for attribute in ("code", "type", "role", "status", "vocabulary"):
            unchecked = (element.tag, attribute) not in known and element.tag != "sector"
            if attribute in element.attrib and unchecked:
                errors.append(f"{element.tag}/@{attribute} is not checked against a codelist")
    return errors


def percentage_errors(document: bytes) -> list[str]:
    """Recipient countries, and sectors of each vocabulary, must add up to 100%."""
    root = ET.fromstring(document)  # noqa: S314
    errors = []
    for activity in root.iter("iati-activity"):
        ident = activity.findtext("iati-identifier")
        countries = [Decimal(c.get("percentage", "0")) for c in activity.iter("recipient-country")]
        if countries and sum(countries) != 100:
            errors.append(f"{ident}: recipient countries add up to {sum(countries)}")
        by_vocabulary: dict[str, Decimal] = defaultdict(Decimal)
        for sector in activity.iter("sector"):
            by_vocabulary[sector.get("vocabulary", "1")] += Decimal(sector.get("percentage", "0"))
        for vocabulary, total in by_vocabulary.items():
            if total != 100:
                errors.append(f"{ident}: sectors of vocabulary {vocabulary} add up to {total}")
    return errors


def assert_valid_iati(document: bytes) -> None:
    assert iati_errors(document) == []
    assert codelist_errors(document) == []
    assert percentage_errors(document) == []


@cache
def giving360_validator() -> Draft202012Validator:
    package = json.loads((STANDARDS / "360giving" / "360-giving-package-schema.json").read_text())
    grant = json.loads((STANDARDS / "360giving" / "360-giving-schema.json").read_text())
    # The schemas say `http://` for the dialect whose id is `https://`: name it explicitly.
    resource = referencing.Resource(grant, specification=referencing.jsonschema.DRAFT202012)
    registry = referencing.Registry().with_resources((uri, resource) for uri in GRANT_SCHEMA_URIS)
    return Draft202012Validator(
        package, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def giving360_errors(document: str) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in giving360_validator().iter_errors(json.loads(document))
    ]


# --- data ------------------------------------------------------------------------


def _manager() -> User:
    return db.session.scalars(select(User).where(User.email == "manager@mmd.example.org")).one()


@pytest.fixture
def grants_under_way(app: Any) -> dict[str, Grant]:
    """The demo's grant signed by both sides with its pre-financing paid, and a second
    grant just awarded (from the application the demo promoted from the reserve list)."""
    create_demo_data()
    manager = _manager()
    signed = db.session.scalars(select(Grant).order_by(Grant.id)).first()
    assert signed is not None and signed.state == "awaiting_signature"
    grantee = signed.application.created_by
    db.session.add(
        Signature(
            contract=signed.current_contract,
            side="grantee",
            method="in_app",
            signer_id=grantee.id,
            signer_name=grantee.name,
            address="192.0.2.10",
            document_sha256="a" * 64,
        )
    )
    db.session.commit()
    transition(signed, "sign", manager)
    prefinancing = signed.payments[0]
    transition(prefinancing, "request", SYSTEM)
    transition(prefinancing, "approve", manager)
    transition(prefinancing, "pay", manager)

    promoted = db.session.scalars(
        select(Application).where(Application.state == "provisionally_selected")
    ).first()
    assert promoted is not None
    transition(promoted, "award", manager, data={"documents_verified": True})
    awarded = db.session.scalars(select(Grant).where(Grant.application_id == promoted.id)).one()
    db.session.expunge_all()  # the exports must load what they read themselves
    return {"signed": signed, "awarded": awarded}


@pytest.fixture
def count_queries(app: Any) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield statements
    event.remove(db.engine, "before_cursor_execute", record)


def _by_number(grants: list[Grant], number: str) -> Grant:
    return next(g for g in grants if g.number == number)


# --- IATI ------------------------------------------------------------------------


def test_iati_export_is_valid_against_schema_and_codelists(
    app: Any, grants_under_way: dict[str, Grant]
) -> None:
    grants = load_grants()
    document = export_iati(grants)
    assert_valid_iati(document)

    root = ET.fromstring(document)  # noqa: S314
    assert root.get("version") == "2.03"
    activities = {a.findtext("iati-identifier"): a for a in root.iter("iati-activity")}
    signed, awarded = grants_under_way["signed"], grants_under_way["awarded"]
    assert set(activities) == {f"XI-IATI-MMD-{signed.number}", f"XI-IATI-MMD-{awarded.number}"}

    activity = activities[f"XI-IATI-MMD-{signed.number}"]
    assert activity.get("default-currency") == "EUR"
    assert activity.find("reporting-org").get("ref") == "XI-IATI-MMD"
    roles = [(p.get("role"), p.findtext("narrative")) for p in activity.iter("participating-org")]
    assert roles[0] == ("1", "European Union")
    assert roles[1] == ("2", "MMD Grant Facility")
    assert ("4", "Horn of Africa Mobility Initiative") in roles
    assert activity.find("activity-status").get("code") == "2"
    dates = {d.get("type"): d.get("iso-date") for d in activity.iter("activity-date")}
    assert dates["1"] == "2026-10-01" and dates["3"] == "2027-03-31"
    assert dates["2"] == "2026-10-01"  # signed, and the start date has passed
    assert "4" not in dates
    assert [(c.get("code"), c.get("percentage")) for c in activity.iter("recipient-country")] == [
        ("ET", "50.00"),
        ("TN", "50.00"),
    ]
    sectors = [(s.get("vocabulary"), s.get("code")) for s in activity.iter("sector")]
    assert sectors == [("1", "15190"), ("99", "1"), ("99", "3")]
    budgets = list(activity.iter("budget"))
    assert [b.get("status") for b in budgets] == ["2"]  # committed once signed
    assert sum(Decimal(b.findtext("value")) for b in budgets) == Decimal("118500.00")
    transactions = [
        (t.find("transaction-type").get("code"), Decimal(t.findtext("value")))
        for t in activity.iter("transaction")
    ]
    paid = _by_number(grants, signed.number).payments[0]
    assert transactions == [("2", Decimal("118500.00")), ("3", paid.amount)]
    link = activity.find("document-link")
    assert link.get("url").endswith(f"/grants/{signed.number}/contract.pdf")
    assert link.find("category").get("code") == "A11"

    pipeline = activities[f"XI-IATI-MMD-{awarded.number}"]
    assert pipeline.find("activity-status").get("code") == "1"
    assert [b.get("status") for b in pipeline.iter("budget")] == ["1"]  # indicative
    assert list(pipeline.iter("transaction")) == []
    assert pipeline.find("document-link") is None  # an unsigned contract is not published


def test_iati_every_grant_state_gives_a_valid_activity(
    app: Any, grants_under_way: dict[str, Grant]
) -> None:
    grants = load_grants()
    signed = _by_number(grants, grants_under_way["signed"].number)
    expected = {
        "active": "2",
        "suspended": "6",
        "final_reporting": "3",
        "closed": "4",
        "terminated": "5",
        "lapsed": "5",
        "contract_preparation": "1",
        "awaiting_signature": "1",
    }
    assert set(expected) == set(GRANT.states)
    for state, status in expected.items():
        signed.state = state  # in memory only: rendering reads, never writes
        document = export_iati([signed])
        assert_valid_iati(document)
        root = ET.fromstring(document)  # noqa: S314
        assert root.find(".//activity-status").get("code") == status
    db.session.rollback()


def test_the_iati_checks_catch_what_they_are_for(
    app: Any, grants_under_way: dict[str, Grant]
) -> None:
    document = export_iati(load_grants())
    wrong_code = document.replace(b'<activity-status code="2"', b'<activity-status code="9"')
    assert codelist_errors(wrong_code) == ["activity-status/@code='9' is not in ActivityStatus"]
    wrong_sector = document.replace(b'code="15190"', b'code="15191"', 1)
    assert codelist_errors(wrong_sector) == ["sector code '15191' is not in Sector"]
    unchecked = document.replace(
        b"<default-aid-type", b'<collaboration-type code="1" />\n<default-aid-type', 1
    )
    assert codelist_errors(unchecked) == [
        "collaboration-type/@code is not checked against a codelist"
    ]
    assert iati_errors(unchecked)  # and out of the schema's order
    uneven = document.replace(b'code="ET" percentage="50.00"', b'code="ET" percentage="40.00"')
    assert percentage_errors(uneven) == [
        f"XI-IATI-MMD-{grants_under_way['signed'].number}: recipient countries add up to 90.00"
    ]


def test_iati_identifiers_follow_the_configuration(
    app: Any, grants_under_way: dict[str, Grant]
) -> None:
    app.config["IATI_REPORTING_ORG_REF"] = "XM-DAC-41000-MMD"
    document = export_iati(load_grants())
    assert_valid_iati(document)
    root = ET.fromstring(document)  # noqa: S314
    identifiers = [a.findtext("iati-identifier") for a in root.iter("iati-activity")]
    assert all(i.startswith("XM-DAC-41000-MMD-MMD-") for i in identifiers)


def test_budget_periods_last_a_year_at_most_and_add_up() -> None:
    periods = budget_periods(date(2027, 3, 1), date(2029, 8, 31), Decimal("150000.00"))
    assert [(s.isoformat(), e.isoformat()) for s, e, _ in periods] == [
        ("2027-03-01", "2028-02-29"),
        ("2028-03-01", "2029-02-28"),
        ("2029-03-01", "2029-08-31"),
    ]
    assert sum(amount for _, _, amount in periods) == Decimal("150000.00")
    assert budget_periods(date(2027, 1, 1), date(2027, 6, 30), Decimal("10.00")) == [
        (date(2027, 1, 1), date(2027, 6, 30), Decimal("10.00"))
    ]


@pytest.mark.parametrize("count", range(1, 8))
def test_equal_shares_add_up_to_exactly_100(count: int) -> None:
    shares = equal_shares(count)
    assert len(shares) == count and sum(shares) == 100
    assert all(s.as_tuple().exponent == -2 for s in shares)


# --- 360Giving -------------------------------------------------------------------


def test_360giving_package_is_valid(app: Any, grants_under_way: dict[str, Grant]) -> None:
    assert "date-time" in Draft202012Validator.FORMAT_CHECKER.checkers  # rfc3339-validator
    document = export_360giving(load_grants())
    assert giving360_errors(document) == []

    package = json.loads(document)
    records = {g["id"]: g for g in package["grants"]}
    signed = grants_under_way["signed"]
    record = records[f"360G-MMD-{signed.number}"]
    assert record["amountAwarded"] == 118500.0 and record["currency"] == "EUR"
    assert record["awardDate"] == signed.awarded_at.date().isoformat()
    assert record["plannedDates"] == [{"startDate": "2026-10-01", "endDate": "2027-03-31"}]
    assert record["recipientOrganization"][0]["name"] == "Horn of Africa Mobility Initiative"
    assert record["recipientOrganization"][0]["id"].startswith("360G-MMD-ORG-")
    assert record["fundingOrganization"] == [{"id": "XI-IATI-MMD", "name": "MMD Grant Facility"}]
    assert [loc["countryCode"] for loc in record["beneficiaryLocation"]] == ["ET", "TN"]
    jvap = [c["code"] for c in record["classifications"] if c["vocabulary"].startswith("http")]
    assert jvap == ["1", "3"]
    assert record["amountDisbursed"] == record["disbursementTransaction"][0]["value"] > 0
    assert f"360G-MMD-{grants_under_way['awarded'].number}" in records


def test_360giving_prefix_is_configurable_and_lapsed_grants_are_left_out(
    app: Any, grants_under_way: dict[str, Grant]
) -> None:
    app.config["GIVING360_PREFIX"] = "360G-example"
    grants = load_grants()
    _by_number(grants, grants_under_way["awarded"].number).state = "lapsed"  # in memory only
    package = json.loads(export_360giving(grants))
    assert [g["id"] for g in package["grants"]] == [
        f"360G-example-{grants_under_way['signed'].number}"
    ]
    assert giving360_errors(json.dumps(package)) == []
    db.session.rollback()


# --- JVAP ------------------------------------------------------------------------


def test_jvap_records_as_csv_and_json(app: Any, grants_under_way: dict[str, Grant]) -> None:
    grants = load_grants()
    signed = grants_under_way["signed"]
    records = {r["reference"]: r for r in json.loads(export_jvap_json(grants))}
    assert set(records) == {g.number for g in grants}
    record = records[signed.number]
    assert list(record) == list(FIELDS)
    assert record == {
        "reference": signed.number,
        "title": "Countering trafficking along the Horn of Africa route",
        "type": "project",
        "jvap_domains": [
            {
                "number": 1,
                "title": "Development benefits of migration and addressing root causes of "
                "irregular migration and forced displacement",
            },
            {"number": 3, "title": "Protection and asylum"},
        ],
        "dialogues": [
            {"code": "c2cmmd", "name": "C2CMMD"},
            {"code": "rabat", "name": "Rabat Process"},
        ],
        "countries": [{"iso2": "ET", "name": "Ethiopia"}, {"iso2": "TN", "name": "Tunisia"}],
        "funder": "European Union",
        "implementing_partners": [{"name": "Horn of Africa Mobility Initiative", "country": "ET"}],
        "budget": "118500.00",
        "currency": "EUR",
        "start_date": "2026-10-01",
        "end_date": "2027-03-31",
        "status": "ongoing",
    }
    assert records[grants_under_way["awarded"].number]["status"] == "planned"

    rows = {r["reference"]: r for r in csv.DictReader(io.StringIO(export_jvap_csv(grants)))}
    row = rows[signed.number]
    assert (
        row["jvap_domains"].startswith("1. Development benefits")
        and "; 3. Protection" in (row["jvap_domains"])
    )
    assert row["dialogues"] == "C2CMMD; Rabat Process"
    assert row["countries"] == "Ethiopia; Tunisia"
    assert row["implementing_partners"] == "Horn of Africa Mobility Initiative"
    assert (row["budget"], row["currency"], row["status"]) == ("118500.00", "EUR", "ongoing")


# --- loading ---------------------------------------------------------------------


def test_exports_load_everything_in_a_few_queries(
    app: Any, grants_under_way: dict[str, Grant], count_queries: list[str]
) -> None:
    load_grants(grant_ids=[grants_under_way["signed"].id])
    for_one = len(count_queries)
    count_queries.clear()
    grants = load_grants()
    loading = len(count_queries)
    assert len(grants) == 2
    # One query for the grants with their many-to-one links, one per collection.
    assert loading == for_one <= 8
    export_iati(grants)
    export_360giving(grants)
    export_jvap_csv(grants)
    export_jvap_json(grants)
    assert count_queries[loading:] == []  # rendering reads nothing more


# --- no grants -------------------------------------------------------------------


def test_exports_with_no_grants(app: Any) -> None:
    grants = load_grants()
    assert grants == []
    assert next(csv.reader(io.StringIO(export_jvap_csv(grants)))) == list(FIELDS)
    assert len(export_jvap_csv(grants).splitlines()) == 1
    assert json.loads(export_jvap_json(grants)) == []
    # Both standards require at least one record, so an empty file would be invalid.
    with pytest.raises(NothingToExport):
        export_iati(grants)
    with pytest.raises(NothingToExport):
        export_360giving(grants)
    publisher = Publisher.from_config(app.config)
    assert publisher.reporting_org_ref == "XI-IATI-MMD"


def test_cli_refuses_to_write_an_invalid_empty_file(app: Any, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    for command in ("iati", "360giving"):
        target = tmp_path / f"{command}.out"
        result = runner.invoke(export_cli, [command, "--output", str(target)])
        assert result.exit_code == 1
        assert "Nothing exported" in result.output
        assert not target.exists()
    result = runner.invoke(export_cli, ["jvap", "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []


# --- commands --------------------------------------------------------------------


def test_cli_commands_write_files(
    app: Any, grants_under_way: dict[str, Grant], tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(export_cli, ["iati", "--output", str(tmp_path / "activities.xml")])
    assert result.exit_code == 0, result.output
    assert_valid_iati((tmp_path / "activities.xml").read_bytes())

    result = runner.invoke(export_cli, ["360giving", "-o", str(tmp_path / "grants.json")])
    assert result.exit_code == 0, result.output
    assert giving360_errors((tmp_path / "grants.json").read_text(encoding="utf-8")) == []

    result = runner.invoke(export_cli, ["jvap", "--output", str(tmp_path / "jvap.csv")])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "jvap.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 2

    args = ["jvap", "--format", "json", "--output", str(tmp_path / "jvap.json")]
    result = runner.invoke(export_cli, args)
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "jvap.json").read_text(encoding="utf-8"))) == 2

    # Without --output the document goes to standard output.
    result = runner.invoke(export_cli, ["iati"])
    assert result.exit_code == 0
    assert_valid_iati(result.stdout_bytes)
