"""The main forms completed with the keyboard alone: Tab, Shift+Tab, Enter, Space, arrows, typing.

Every control reached on the way must show a focus indicator; every page starts
with a skip link to the main content; Tab walks through a page and out of it
again (no keyboard trap), and Shift+Tab walks back.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from grants.extensions import db
from grants.models import Application, Assignment
from grants.services import panels
from tests.factories import PASSWORD, ApplicationFactory, ManagerFactory, UserFactory
from tests.test_evaluation_services import build, live

pytestmark = pytest.mark.e2e

# What the focused element is, and whether it shows a focus indicator.
FOCUSED = r"""() => {
    const e = document.activeElement;
    if (!e || e === document.body || e === document.documentElement) return null;
    const s = getComputedStyle(e);
    const r = e.getBoundingClientRect();
    const choice = e.type === "radio" || e.type === "checkbox";
    let key = e.tagName.toLowerCase() + (e.id ? "#" + e.id : "");
    if (e.name) key += "[name=" + e.name + "]";
    if (choice) key += "[value=" + e.value + "]";
    if (e.tagName === "A") key += "[href=" + e.getAttribute("href") + "]";
    if (e.tagName === "BUTTON") key += "(" + e.textContent.trim().replace(/\s+/g, " ") + ")";
    const outlined = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2;
    return {
        key: key,
        order: e.dataset.tabOrder,
        ringed: outlined || s.boxShadow !== "none",
        visible: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0,
        inMain: !!e.closest("main"),
        tabindex: e.getAttribute("tabindex"),
    };
}"""

# Numbers the elements Tab should reach (visible, enabled, not tabindex -1), radio groups
# once each (Tab enters a group on one of its buttons); returns how many.
STAMP_TABBABLE = """() => {
    const groups = new Set();
    let n = 0;
    document.querySelectorAll("a[href], button, input, select, textarea, [tabindex]").forEach(e => {
        const reachable = !e.disabled && e.type !== "hidden" && e.getAttribute("tabindex") !== "-1"
            && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
        if (!reachable) return;
        if (e.type === "radio") {
            const members = document.querySelectorAll(
                'input[type=radio][name="' + CSS.escape(e.name) + '"]');
            if (groups.has(e.name)) {
                e.dataset.tabOrder = members[0].dataset.tabOrder;
                return;
            }
            groups.add(e.name);
        }
        e.dataset.tabOrder = String(n++);
    });
    return n;
}"""


def focused(page) -> dict | None:  # type: ignore[no-untyped-def]
    return page.evaluate(FOCUSED)


def press(page, key: str) -> dict | None:  # type: ignore[no-untyped-def]
    """Press a key and check the control it lands on shows where the focus is."""
    page.keyboard.press(key)
    now = focused(page)
    if now is not None and now["tabindex"] != "-1":
        assert now["visible"], f"{key} moved the focus to a hidden element: {now['key']}"
        assert now["ringed"], f"no visible focus indicator on {now['key']} ({page.url})"
    return now


def tab_to(  # type: ignore[no-untyped-def]
    page, key: str, backwards: bool = False, limit: int = 80, prefix: bool = False
) -> None:
    """Tab (or Shift+Tab) until the element described by `key` (or starting so) has the focus."""
    seen = []
    for _ in range(limit):
        now = press(page, "Shift+Tab" if backwards else "Tab")
        seen.append(now and now["key"])
        if now is not None and (now["key"] == key or (prefix and now["key"].startswith(key))):
            return
    raise AssertionError(f"{key} never reached with the keyboard; the focus went to {seen}")


def type_into(page, key: str, text: str) -> None:  # type: ignore[no-untyped-def]
    tab_to(page, key)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(text)


def enter_and_wait(page, key: str = "Enter") -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.keyboard.press(key)


def start_of_page(page) -> None:  # type: ignore[no-untyped-def]
    """Check the first Tab reaches a visible skip link, and that it leads into <main>."""
    first = press(page, "Tab")
    assert first is not None and first["key"] == "a[href=#main]", (page.url, first)
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main", page.url
    after = press(page, "Tab")
    assert after is not None and after["inMain"], (page.url, after)


def walk_out_and_back(page) -> None:  # type: ignore[no-untyped-def]
    """Tab through the whole page and out of it, then Shift+Tab back: no keyboard trap."""
    count = page.evaluate(STAMP_TABBABLE)
    # From wherever the focus is, Tab to the end of the page: the walk starts from outside it.
    for _ in range(count + 3):
        if press(page, "Tab") is None:
            break
    else:
        raise AssertionError(f"Tab never left {page.url}")
    forward, keys = [], []
    for _ in range(count + 3):
        now = press(page, "Tab")
        if now is None:  # left the page: the focus went back to the browser
            break
        forward.append(now["order"])
        keys.append(now["key"])
    else:
        raise AssertionError(f"Tab never left {page.url}: trapped after {keys[-5:]}")
    # Each reachable element exactly once: none skipped, none holding the focus.
    assert sorted(forward, key=int) == [str(n) for n in range(count)], (page.url, keys)
    backward: list[str] = []
    for _ in range(count + 3):
        now = press(page, "Shift+Tab")
        if now is None or now["order"] in backward:  # left the page, or went round to its end
            break
        backward.append(now["order"])
    else:
        raise AssertionError(f"Shift+Tab never left {page.url}: trapped after {backward[-5:]}")
    assert backward == list(reversed(forward)), (page.url, keys)


def log_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    """The login form with the keyboard alone: skip link, fields, Enter."""
    page.goto(f"{base}/account/login")
    start_of_page(page)
    type_into(page, "input#email[name=email]", email)
    type_into(page, "input#password[name=password]", PASSWORD)
    enter_and_wait(page)
    assert "/account/login" not in page.url, page.inner_text("main")


def test_log_in_with_the_keyboard_alone(app, live_server, page):  # type: ignore[no-untyped-def]
    user = UserFactory()
    email = user.email
    db.session.commit()
    db.session.remove()  # the server thread opens its own sessions

    page.goto(f"{live_server}/account/login")
    walk_out_and_back(page)
    # A wrong password first: the error is announced with the field, the focus path unchanged.
    page.goto(f"{live_server}/account/login")
    type_into(page, "input#email[name=email]", email)
    type_into(page, "input#password[name=password]", "not the password")
    enter_and_wait(page)
    assert "/account/login" in page.url
    log_in(page, live_server, email)
    assert "/home/" in page.url
    # Log out with the keyboard too: Shift+Tab from the main content back to the header.
    page.goto(f"{live_server}/home/")
    start_of_page(page)
    tab_to(page, "button(Log out", backwards=True, prefix=True)
    enter_and_wait(page, "Space")
    assert "You are logged out." in page.inner_text("main")


def test_save_an_application_section_with_the_keyboard(  # type: ignore[no-untyped-def]
    app, frozen_clock, live_server, page
):
    application = ApplicationFactory(title="Old title")
    email, application_id = application.created_by.email, application.id
    db.session.commit()
    db.session.remove()

    log_in(page, live_server, email)
    base = f"{live_server}/applicant/applications/{application_id}"
    page.goto(f"{base}/sections/summary")
    start_of_page(page)
    type_into(page, "input#title[name=title]", "Safe migration information in Kayes")
    type_into(page, "input#requested_amount[name=requested_amount]", "not an amount")
    tab_to(page, "button[name=continue](Save and continue)", limit=20)
    tab_to(page, "button(Save)", limit=1)
    enter_and_wait(page)
    # The error is tied to the field; correct it and save again.
    assert page.get_attribute("#requested_amount", "aria-invalid") == "true"
    described = page.get_attribute("#requested_amount", "aria-describedby").split()
    assert "requested_amount-error" in described
    assert page.inner_text("#requested_amount-error").strip()
    # The form posted to its page's address, #main included: the focus starts in the content.
    type_into(page, "input#requested_amount[name=requested_amount]", "100000")
    tab_to(page, "button(Save)", limit=20)
    enter_and_wait(page, "Space")
    assert page.locator(".flash.error, p.error").count() == 0, page.inner_text("main")

    # Radio buttons with the arrow keys, check boxes with Space.
    page.goto(f"{base}/sections/domains")
    start_of_page(page)
    tab_to(page, "input[name=primary][value=1]")
    press(page, "ArrowDown")
    assert focused(page)["key"] == "input[name=primary][value=2]"
    tab_to(page, "input[name=secondary][value=4]")
    press(page, "Space")
    walk_out_and_back(page)
    tab_to(page, "button(Save)", limit=80)
    enter_and_wait(page)

    with app.app_context():
        saved = db.session.get(Application, application_id)
        assert saved.title == "Safe migration information in Kayes"
        assert saved.requested_amount == Decimal("100000")
        links = {(link.domain_number, link.is_primary) for link in saved.jvap_links}
        assert links == {(2, True), (3, False), (4, False)}, links


def test_score_an_evaluation_with_the_keyboard(  # type: ignore[no-untyped-def]
    app, frozen_clock, live_server, page
):
    s = build(count=1, evaluators=2)
    panels.auto_assign(s.call, "concept_note", s.manager)
    mine = live(s.applications[0])[0]
    grid = s.call.grid_for("concept_note")
    criteria = [c.id for section in grid.sections for c in section.criteria]
    email, assignment_id = mine.evaluator.email, mine.id
    db.session.commit()
    db.session.remove()

    log_in(page, live_server, email)
    page.goto(f"{live_server}/evaluation/assignments/{assignment_id}")
    start_of_page(page)
    # The declaration: the arrow keys move between the choices; "no conflict" is sent.
    tab_to(page, "input#conflict-0[name=conflict][value=no]")
    press(page, "ArrowDown")
    assert focused(page)["key"] == "input#conflict-1[name=conflict][value=yes]"
    press(page, "ArrowUp")
    assert page.is_checked("#conflict-0")
    tab_to(page, "input#submit[name=submit]")
    enter_and_wait(page)
    assert "Declaration recorded" in page.inner_text("main")

    # Each criterion: Tab into its scale, arrows up to 4, Tab to the comment, type.
    start_of_page(page)
    for criterion in criteria:
        tab_to(page, f"input#score_{criterion}-0[name=score_{criterion}][value=1]")
        for _ in range(3):
            press(page, "ArrowRight")
        assert focused(page)["key"].endswith("[value=4]")
        type_into(page, f"textarea#comment_{criterion}[name=comment_{criterion}]",
                  f"Assessed from the keyboard ({criterion}).")
    tab_to(page, "input#submit_sheet[name=submit_sheet]", limit=5)
    enter_and_wait(page)
    assert "Your evaluation is submitted." in page.inner_text("main")

    with app.app_context():
        done = db.session.get(Assignment, assignment_id)
        assert done.state == "submitted"
        assert {score.score for score in done.scores} == {4}


def test_filter_the_applications_list_with_the_keyboard(  # type: ignore[no-untyped-def]
    app, frozen_clock, live_server, page
):
    manager = ManagerFactory()
    ApplicationFactory(title="Still a draft")
    ApplicationFactory(title="Withdrawn early", state="withdrawn")
    email = manager.email
    db.session.commit()
    db.session.remove()

    log_in(page, live_server, email)
    page.goto(f"{live_server}/dashboard/lists/applications")
    start_of_page(page)
    type_into(page, "input[name=q]", "early")
    tab_to(page, "select[name=state]", limit=5)
    # A closed select changes with the arrow keys; type the first letters to jump.
    page.keyboard.type("withdrawn")
    assert page.eval_on_selector("select[name=state]", "e => e.value") == "withdrawn"
    tab_to(page, "button(Apply)", limit=20)
    enter_and_wait(page)
    assert "state=withdrawn" in page.url and "q=early" in page.url
    rows = page.inner_text("table.list tbody")
    assert "Withdrawn early" in rows and "Still a draft" not in rows
    walk_out_and_back(page)

    with app.app_context():
        assert db.session.scalar(select(Application).where(Application.state == "withdrawn"))
