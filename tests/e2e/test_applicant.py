"""An applicant in a real browser: from a new account to a submitted application, then French."""

from __future__ import annotations

import email
import email.policy
import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from grants.extensions import db
from grants.models import Application, User
from tests.factories import SingleStageCallFactory

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PASSWORD = "a long enough passphrase"


def _verification_path(mail_folder: Path, address: str) -> str:
    for path in sorted(mail_folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address in str(message["To"]):
            text = message.get_body(("plain",)).get_content()
            found = re.search(r"https?://[^/\s]+(/account/verify/\S+)", text)
            assert found, text
            return found.group(1)
    raise AssertionError(f"no mail to {address} in {mail_folder}")


def _save(page) -> None:
    """Save the section with its plain button, and check the server took it."""
    page.click("form.section-form button.secondary")
    page.wait_for_load_state("load")
    assert page.locator(".flash.error, p.error").count() == 0, page.inner_text("main")


def test_applicant_registers_applies_submits_and_reads_french(  # type: ignore[no-untyped-def]
    app, frozen_clock, live_server, page, tmp_path
):
    call = SingleStageCallFactory()
    code = call.code
    db.session.commit()
    db.session.remove()  # the server thread opens its own sessions
    mail_folder = Path(app.config["MAIL_FOLDER"])
    address = "amina@example.org"

    # Register, then confirm the address from the mail the app wrote.
    page.goto(f"{live_server}/account/register")
    page.fill("#name", "Amina Diallo")
    page.fill("#email", address)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.select_option("#language", "en")
    page.click("input[type=submit]")
    assert "/account/check-your-mail" in page.url
    page.goto(live_server + _verification_path(mail_folder, address))
    assert "Your email address is confirmed" in page.inner_text("main")

    page.goto(f"{live_server}/account/login")
    page.fill("#email", address)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")

    # The organisation, based in an African Union member state.
    page.goto(f"{live_server}/applicant/organisations/new")
    page.fill("#name", "Réseau Migrations Dakar")
    page.fill("#acronym", "RMD")
    page.select_option("#org_type", "cso")
    page.select_option("#country_iso2", "SN")
    page.fill("#registration_number", "SN-DKR-2019-B-1234")
    page.fill("#address", "12 rue Carnot, Dakar")
    page.click("input[type=submit]")
    assert "you are its owner" in page.inner_text("body")

    page.goto(f"{live_server}/calls/{code}")
    page.click(f"a[href='/applicant/calls/{code}/apply']")
    page.click("input[type=submit]")
    application_id = int(re.search(r"/applications/(\d+)", page.url).group(1))
    base = f"{live_server}/applicant/applications/{application_id}"

    page.goto(f"{base}/sections/summary")
    page.fill("#title", "Safe migration information in Dakar and Bamako")
    page.fill("#text", "Information centres on safe and regular migration.")
    page.fill("#requested_amount", "120000")
    page.fill("#total_cost", "130000")
    page.fill("#duration_months", "6")
    _save(page)

    page.goto(f"{base}/sections/domains")
    page.check("input[name=primary][value='1']")
    page.check("input[name=secondary][value='3']")
    page.check("input[name=dialogues][value=rabat]")
    _save(page)

    page.goto(f"{base}/sections/countries")
    page.check("input[name=countries][value=SN]")
    page.check("input[name=countries][value=ML]")
    _save(page)

    page.goto(f"{base}/sections/partners")
    page.check("input[name=has_co_applicant]")
    page.fill("#co_name", "Association Retour Bamako")
    page.select_option("#co_org_type", "cso")
    page.select_option("#co_country_iso2", "ML")
    page.fill("#co_registration_number", "ML-0042")
    _save(page)

    page.goto(f"{base}/sections/description")
    page.fill("#text", "Two centres inform 5,000 young people on the legal routes.")
    page.fill("#target_groups", "Young people aged 18 to 30.")
    page.fill("#sustainability", "The municipalities keep the centres open.")
    _save(page)

    page.goto(f"{base}/sections/logframe")
    for field, value in (
        ("objective", "Safer migration decisions"),
        ("result", "Young people know the legal routes"),
        ("indicator", "People informed"),
        ("baseline", "0"),
        ("target", "5000"),
    ):
        page.fill(f"textarea[name=objectives-0-{field}]", value)
    _save(page)

    page.goto(f"{base}/sections/workplan")
    page.fill("input[name=activities-0-activity]", "Open the two centres")
    page.fill("input[name=activities-0-start_month]", "1")
    page.fill("input[name=activities-0-end_month]", "6")
    page.fill("input[name=activities-0-responsible]", "RMD")
    _save(page)

    page.goto(f"{base}/sections/budget")
    page.select_option("select[name=lines-0-heading]", "human_resources")
    page.fill("input[name=lines-0-description]", "Counsellors")
    page.fill("input[name=lines-0-unit]", "month")
    page.fill("input[name=lines-0-quantity]", "12")
    page.fill("input[name=lines-0-unit_cost]", "10833.33")
    _save(page)
    assert "129,999.96" in page.inner_text("main")

    # The mandatory attachments, uploaded through the file input.
    page.goto(f"{base}/attachments")
    kinds = [
        value
        for value in page.eval_on_selector_all("#kind option", "els => els.map(e => e.value)")
        if value != "other"
    ]
    assert kinds
    for kind in kinds:
        document = tmp_path / f"{kind}.pdf"
        document.write_bytes(PDF)
        page.select_option("#kind", kind)
        page.set_input_files("#file", str(document))
        page.click("input[type=submit][name=submit]")
        assert "The file is uploaded." in page.inner_text("main")
    assert page.locator(f"a:has-text('{kinds[0]}.pdf')").count() == 1

    page.goto(f"{base}/preview")
    assert "the rules of the call are met" in page.inner_text("main"), page.inner_text("main")
    page.click("form[action$='/submit'] button[type=submit]")
    assert page.url.endswith(f"/applications/{application_id}/receipt")
    reference = page.inner_text("#reference").strip()
    assert re.fullmatch(r"[A-Z]+-\S+", reference), reference

    with page.expect_download() as download_info:
        page.click("a[href$='/receipt.pdf']")
    pdf_path = download_info.value.path()
    text = " ".join(
        p.extract_text() for p in PdfReader(io.BytesIO(Path(pdf_path).read_bytes())).pages
    )
    assert reference in text.replace("\n", " ")

    # The same person switches to French: the page, and the next ones, are in French.
    page.select_option("#language-choice", "fr")
    page.click("form.language button[type=submit]")
    body = page.inner_text("body")
    assert "Accusé de réception de la soumission" in body and "Numéro de référence" in body
    assert page.get_attribute("html", "lang") == "fr"
    page.goto(f"{live_server}/applicant/")
    dashboard = page.inner_text("main")
    assert "Mes demandes" in page.inner_text("body") and "soumise" in dashboard
    assert reference in dashboard

    with app.app_context():
        submitted = db.session.get(Application, application_id)
        assert submitted.state == "submitted" and submitted.reference == reference
        user = db.session.scalar(db.select(User).where(User.email == address))
        assert user.language == "fr"
