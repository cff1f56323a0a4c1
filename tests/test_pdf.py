"""PDF documents: the grant contract's content, its safety while rendering, its determinism."""

from __future__ import annotations

import hashlib
import io
import logging
import socket
import urllib.request
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import weasyprint.urls
from pypdf import PdfReader

from grants.extensions import db
from grants.models import Grant
from grants.rules.payments import amount_in_words
from grants.services import effects
from grants.services.contracts import ContractDocumentChanged, contract_context, render_contract
from reports import pdf
from reports.pdf import STATIC_BASE_URL, STATIC_ROOT, FetchRefused, StaticFileFetcher, html_to_pdf
from tests.factories import GrantFactory, member, sign_as_grantee

LOGFRAME = {
    "objectives": [
        {
            "objective": "Improve access to reliable information on safe migration",
            "results": [
                {
                    "result": "Information centres operational in Dakar and Bamako",
                    "indicators": [
                        {"indicator": "People counselled", "baseline": "120", "target": "2500"}
                    ],
                }
            ],
        }
    ]
}


def _grant(language: str = "en", **application: Any) -> Grant:
    """An awarded grant of EUR 98,765.43 on a total cost of EUR 109,739.37 (co-financed)."""
    grant = GrantFactory(
        amount=Decimal("98765.43"),
        funding_rate=Decimal("0.9000"),
        start_date=date(2027, 1, 1),
        end_date=date(2027, 6, 30),
        application__language=language,
        application__requested_amount=Decimal("98765.43"),
        application__total_cost=Decimal("109739.37"),
        application__organisation__name="Association sénégalaise pour une migration sûre",
        application__organisation__registration_number="SN-DKR-2019-B-4471",
        **{f"application__{key}": value for key, value in application.items()},
    )
    logframe = grant.application.section("logframe")
    assert logframe is not None
    logframe.data = LOGFRAME
    db.session.commit()
    return grant


def _text(document: bytes) -> str:
    """The document's text with every run of white space (no-break spaces too) as one space."""
    reader = PdfReader(io.BytesIO(document))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def no_network_nor_default_fetcher(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if rendering opens a socket or uses WeasyPrint's own fetcher."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        pytest.fail(f"rendering tried to reach out: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(weasyprint.urls.URLFetcher, "fetch", refuse)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse)


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Every URL the restricted fetcher was asked for, and every file it read."""
    seen: dict[str, list[str]] = {"asked": [], "read": []}
    original_fetch = StaticFileFetcher.fetch
    original_read = Path.read_bytes

    def fetch(self: StaticFileFetcher, url: str, headers: Any = None) -> Any:
        seen["asked"].append(url)
        return original_fetch(self, url, headers)

    def read_bytes(self: Path) -> bytes:
        seen["read"].append(str(self))
        return original_read(self)

    monkeypatch.setattr(StaticFileFetcher, "fetch", fetch)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    return seen


# --------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------


def test_english_contract_states_parties_action_dates_money_and_themes(app):  # type: ignore[no-untyped-def]
    grant = _grant("en")
    text = _text(render_contract(grant))

    assert "GRANT CONTRACT" in text and "Special conditions" in text
    assert f"Grant No. {grant.number}" in text
    assert "MMD Grant Facility" in text and "implemented by" in text
    assert "Association sénégalaise pour une migration sûre" in text
    assert "SN-DKR-2019-B-4471" in text
    assert grant.application.title in text
    assert "starts on 1 January 2027 and ends on 30 June 2027 (6 months)" in text
    assert "maximum of EUR 98,765.43" in text
    words = amount_in_words(Decimal("98765.43"), "en")
    assert words.startswith("ninety-eight thousand")
    assert words in text
    assert "equivalent to 90% of the total estimated eligible costs" in text
    assert "co-finance the action with EUR 10,973.94" in text
    assert "1. Development benefits of migration" in text and "(primary domain)" in text
    assert "3. Protection and asylum" in text
    assert "Rabat Process" in text and "C2CMMD" in text
    assert "Countries of implementation: Mali, Senegal" in text
    # Annexes: logframe, budget, payment and reporting schedules.
    assert "Information centres operational in Dakar and Bamako" in text
    assert "People counselled 120 2500" in text
    assert "Total eligible costs 98,765.43" in text
    assert "On signature of the contract 79,012.34 80%" in text
    assert "After approval of the final report 19,753.09 20%" in text
    assert "Final report 1 January 2027 to 30 June 2027 30 September 2027" in text
    # Header and footer on every page.
    pages = PdfReader(io.BytesIO(render_contract(grant))).pages
    for number, page in enumerate(pages, start=1):
        page_text = " ".join(page.extract_text().split())
        assert grant.number in page_text
        assert f"Page {number} of {len(pages)}" in page_text


def test_french_application_gets_a_french_contract(app):  # type: ignore[no-untyped-def]
    grant = _grant("fr")
    text = _text(render_contract(grant))

    assert "CONTRAT DE SUBVENTION" in text and "Conditions particulières" in text
    assert f"Subvention n° {grant.number}" in text
    assert "commence le 1er janvier 2027 et se termine le 30 juin 2027 (6 mois)" in text
    assert "montant maximal de 98 765,43 EUR" in text
    words = amount_in_words(Decimal("98765.43"), "fr")
    assert words.startswith("quatre-vingt-dix-huit mille")
    assert words in text
    assert "soit 90 % du coût total éligible estimé" in text
    assert "Protection et asile" in text and "Processus de Rabat" in text
    assert "Rapport final 1er janvier 2027 au 30 juin 2027 30 septembre 2027" in text
    assert "Page 1 sur" in text
    assert "Grant contract" not in text and "Page 1 of" not in text


def test_schedules_before_signature_are_those_signature_creates(app):  # type: ignore[no-untyped-def]
    """Before signature the annexes follow the call's shares; after, the grant's own rows."""
    grant = _grant("en")
    grant.application.call.prefinancing_shares = ["0.40", "0.30", "0.20"]
    grant.end_date = date(2027, 12, 31)
    db.session.commit()
    before = contract_context(grant)
    assert [p.kind for p in before["payments"]] == [
        "Initial pre-financing",
        "Further pre-financing",
        "Further pre-financing",
        "Payment of the balance",
    ]
    assert sum(p.amount for p in before["payments"]) == grant.amount
    assert [(r.label, r.due_date) for r in before["reports"]] == [
        ("Interim report 1", date(2027, 5, 30)),
        ("Interim report 2", date(2027, 9, 30)),
        ("Final report", date(2028, 3, 31)),
    ]

    effects.plan_payments_and_reports(grant, SimpleNamespace(now=datetime.now(UTC)))
    db.session.flush()
    after = contract_context(grant)
    assert grant.payments and grant.reports
    assert after["payments"] == before["payments"]
    assert after["reports"] == before["reports"]


# --------------------------------------------------------------------------
# Safety: user text is text, and nothing outside our static files is fetched
# --------------------------------------------------------------------------

HOSTILE_TITLE = '<img src="file:///etc/passwd"> <link href="http://example.org/x.css">'
HOSTILE_SUMMARY = (
    "<style>body { background: url(http://example.org/bg.png) }</style> "
    '<div style="background: url(file:///etc/passwd)">x</div>'
)


@pytest.mark.usefixtures("no_network_nor_default_fetcher")
def test_hostile_application_text_is_shown_escaped_and_never_fetched(app, fetched):  # type: ignore[no-untyped-def]
    grant = _grant("en", title=HOSTILE_TITLE)
    summary = grant.application.section("summary")
    assert summary is not None
    summary.data = {"text": HOSTILE_SUMMARY}
    grant.application.organisation.address = '<img src="http://example.org/pixel.gif">'
    db.session.commit()

    text = _text(render_contract(grant))

    assert HOSTILE_TITLE in text
    assert "url(http://example.org/bg.png)" in text
    assert '<div style="background: url(file:///etc/passwd)">' in text
    assert '<img src="http://example.org/pixel.gif">' in text
    # The fetcher only ever saw our own style sheet and fonts, and read only those files.
    assert fetched["asked"], "the style sheet and fonts go through the fetcher"
    assert all(url.startswith(STATIC_BASE_URL) for url in fetched["asked"]), fetched["asked"]
    assert {url.removeprefix(STATIC_BASE_URL) for url in fetched["asked"]} == {
        "css/pdf.css",
        "fonts/DejaVuSans.ttf",
        "fonts/DejaVuSans-Bold.ttf",
    }
    assert all(Path(path).is_relative_to(STATIC_ROOT) for path in fetched["read"])


@pytest.mark.usefixtures("no_network_nor_default_fetcher")
def test_markup_that_asks_for_outside_resources_is_refused_and_logged(  # type: ignore[no-untyped-def]
    fetched, caplog
):
    """Were markup to reach a template, the fetcher still refuses everything but our files."""
    hostile = [
        "file:///etc/passwd",
        "http://example.org/x.css",
        "https://example.org/logo.png",
        "ftp://example.org/logo.png",
        STATIC_BASE_URL + "../services/contracts.py",
        STATIC_BASE_URL + "css/%2e%2e/%2e%2e/config.py",
        "data:text/css,body{background:red}",
    ]
    html = f"""<html><head>
      <link rel="stylesheet" href="css/pdf.css">
      <link rel="stylesheet" href="{hostile[1]}">
      <style>
        @import url("{hostile[4]}");
        body {{ background: url({hostile[0]}); }}
        @font-face {{ font-family: X; src: url({hostile[3]}); }}
      </style></head>
      <body>
        <img src="{hostile[2]}"><img src="{hostile[5]}"><img src="../../../../etc/passwd">
        <link rel="stylesheet" href="{hostile[6]}">
        <p style="font-family: X">text</p>
      </body></html>"""
    fetcher = StaticFileFetcher()
    with caplog.at_level(logging.WARNING, logger=pdf.__name__):
        document = html_to_pdf(html, fetcher)

    assert document.startswith(b"%PDF-")
    for url in hostile:
        assert url in fetcher.refused, url
    assert sorted(fetcher.served) == [
        STATIC_BASE_URL + "css/pdf.css",
        STATIC_BASE_URL + "fonts/DejaVuSans-Bold.ttf",
        STATIC_BASE_URL + "fonts/DejaVuSans.ttf",
    ]
    assert "file:///etc/passwd" in caplog.text and "refused" in caplog.text
    assert all(Path(path).is_relative_to(STATIC_ROOT) for path in fetched["read"])


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://example.org/share/DejaVuSans.ttf",
        "http://example.org/x.css",
        "https://127.0.0.1/x.css",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "data:image/svg+xml,<svg/>",
        "data:image/png;base64,%%%not-base64",
        STATIC_BASE_URL + "../../pyproject.toml",
        STATIC_BASE_URL + "..%2F..%2Fpyproject.toml",
        STATIC_BASE_URL + "fonts/LICENSE-DejaVu.txt",  # not a type a document loads
        STATIC_BASE_URL + "fonts/missing.ttf",
    ],
)
def test_fetcher_refuses(url: str) -> None:
    fetcher = StaticFileFetcher()
    with pytest.raises(FetchRefused):
        fetcher.fetch(url)
    assert fetcher.refused == [url] and fetcher.served == []


def test_fetcher_serves_static_files_and_inline_images() -> None:
    fetcher = StaticFileFetcher()
    font = fetcher.fetch(STATIC_BASE_URL + "fonts/DejaVuSans.ttf")
    assert font.content_type == "font/ttf"
    assert font.read() == (STATIC_ROOT / "fonts" / "DejaVuSans.ttf").read_bytes()
    css = fetcher.fetch(STATIC_BASE_URL + "css/pdf.css")
    assert css.content_type == "text/css"
    pixel = fetcher.fetch("data:image/gif;base64,R0lGODlhAQABAAAAACw=")
    assert pixel.content_type == "image/gif" and pixel.read().startswith(b"GIF89a")
    assert fetcher.refused == []


def test_fetcher_stays_in_its_folder_whatever_the_path(tmp_path: Path) -> None:
    """Files of a served type outside the folder are refused: by '..', encoded or via a link."""
    root, outside = tmp_path / "static", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "inside.css").write_text("p { color: red }")
    (outside / "secret.css").write_text("p { color: blue }")
    (root / "escape.css").symlink_to(outside / "secret.css")
    fetcher = StaticFileFetcher(root)
    base = root.as_uri() + "/"

    assert fetcher.fetch(base + "inside.css").read() == b"p { color: red }"
    for url in (
        (outside / "secret.css").as_uri(),
        base + "../outside/secret.css",
        base + "%2e%2e/outside/secret.css",
        base + "escape.css",
        "file:///usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ):
        with pytest.raises(FetchRefused, match="outside"):
            fetcher.fetch(url)
    assert fetcher.served == [base + "inside.css"]


def test_only_the_shipped_font_is_embedded(app):  # type: ignore[no-untyped-def]
    reader = PdfReader(io.BytesIO(render_contract(_grant("en"))))
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]).split("+", 1)[-1])
    # WeasyPrint names an @font-face font after its family: system fonts would show theirs.
    assert fonts == {"MMD-Document-Sans", "MMD-Document-Sans-Bold"}


def test_templates_escape_even_without_an_html_file_name() -> None:
    assert pdf.environment().autoescape is True
    rendered = pdf.environment().from_string("{{ value }}").render(value="<b>&</b>")
    assert rendered == "&lt;b&gt;&amp;&lt;/b&gt;"


# --------------------------------------------------------------------------
# Determinism and the recorded hash
# --------------------------------------------------------------------------


def test_same_version_renders_the_same_bytes_whatever_the_time(app, frozen_clock):  # type: ignore[no-untyped-def]
    grant = _grant("en")
    version = grant.current_contract
    assert version is not None
    first = render_contract(grant)
    frozen_clock.advance(days=3, hours=5)
    db.session.expire_all()
    second = render_contract(db.session.get(Grant, grant.id))

    assert first == second
    info = PdfReader(io.BytesIO(first)).metadata
    assert info is not None and info.creation_date is not None
    assert info.creation_date.replace(tzinfo=UTC) == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert info.title == f"Grant contract {grant.number}"


def test_recorded_hash_is_that_of_the_rendered_bytes(app):  # type: ignore[no-untyped-def]
    grant = _grant("en")
    document = render_contract(grant)
    db.session.commit()
    db.session.expire_all()
    version = db.session.get(Grant, grant.id).current_contract
    assert version.document_sha256 == hashlib.sha256(document).hexdigest()

    grant = db.session.get(Grant, grant.id)
    grant.application.title = "Safe migration information centres, extended"
    changed = render_contract(grant)
    assert changed != document
    assert grant.current_contract.document_sha256 == hashlib.sha256(changed).hexdigest()


def test_signed_version_keeps_the_document_it_was_signed_on(app):  # type: ignore[no-untyped-def]
    grant = _grant("en")
    document = render_contract(grant)
    db.session.commit()
    signature = sign_as_grantee(grant, member(grant.application.organisation))
    signed_hash = grant.current_contract.document_sha256
    assert signature.contract.document_sha256 == signed_hash

    assert render_contract(grant) == document  # same data: fine
    grant.application.title = "A title changed after signature"
    with pytest.raises(ContractDocumentChanged):
        render_contract(grant)
    assert grant.current_contract.document_sha256 == signed_hash


def test_each_contract_version_is_rendered_on_its_own_terms(app):  # type: ignore[no-untyped-def]
    grant = _grant("en")
    first = render_contract(grant)
    v1 = grant.current_contract
    assert v1 is not None
    v2 = type(v1)(
        number=2, reason="Addendum 1: extension", created_at=datetime(2027, 3, 1, tzinfo=UTC)
    )
    grant.contracts.append(v2)
    db.session.commit()

    second = render_contract(grant)
    assert "Contract version 2 (Addendum 1: extension)" in _text(second)
    assert v2.document_sha256 == hashlib.sha256(second).hexdigest()
    assert render_contract(grant, v1) == first
    assert v1.document_sha256 == hashlib.sha256(first).hexdigest()


def test_a_section_can_be_missing(app):  # type: ignore[no-untyped-def]
    grant = _grant("en")
    grant.application.sections = [
        s for s in grant.application.sections if s.key not in ("logframe", "workplan")
    ]
    db.session.commit()
    text = _text(render_contract(grant))
    assert "Logical framework None stated." in text
    assert "Work plan" not in text
