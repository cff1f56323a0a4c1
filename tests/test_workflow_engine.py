"""The workflow engine and definitions on their own: no Flask, no database."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import workflows
from workflows import (
    ALL,
    Engine,
    GuardsFailed,
    IllegalTransition,
    Transition,
    UnknownGuard,
    Workflow,
)
from workflows.diagrams import mermaid, write_diagrams

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_NAMES = sorted(ALL)

# Roles and audiences the application's policy and notifications understand.
KNOWN_ROLES = {"applicant_editor", "applicant_owner", "evaluator", "manager", "system"}
KNOWN_AUDIENCES = {"applicant", "managers", "evaluator"}


def passing_guards(workflow: Workflow) -> dict[str, object]:
    return {name: (lambda obj, ctx: None) for name in workflow.guard_names}


def edges(workflow: Workflow) -> list[tuple[str, str, str]]:
    return [(source, t.event, t.dest) for t in workflow.transitions for source in t.sources]


def all_edges() -> list[tuple[str, str, str, str]]:
    return [(name, *edge) for name in WORKFLOW_NAMES for edge in edges(ALL[name])]


def illegal_pairs() -> list[tuple[str, str, str]]:
    pairs = []
    for name in WORKFLOW_NAMES:
        workflow = ALL[name]
        for state in workflow.states:
            allowed = {t.event for t in workflow.transitions_from(state)}
            pairs += [(name, state, e) for e in workflow.events if e not in allowed]
    return pairs


# --- every allowed transition moves the object ---


@pytest.mark.parametrize(("name", "source", "event", "dest"), all_edges())
def test_every_allowed_transition_moves_a_plain_object(name, source, event, dest):
    workflow = ALL[name]
    engine = Engine(workflow, passing_guards(workflow))
    obj = SimpleNamespace(state=source)

    taken = engine.fire(obj, event, {})

    assert obj.state == dest
    assert taken.event == event and source in taken.sources and taken.dest == dest
    assert engine.machine.models == []


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_trigger_alone_moves_without_guards(name):
    workflow = ALL[name]
    engine = Engine(workflow)  # no guard implementations at all
    for source, event, dest in edges(workflow):
        obj = SimpleNamespace(state=source)
        engine.trigger(obj, event)
        assert obj.state == dest, (source, event)


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_events_from_lists_exactly_the_outgoing_events(name):
    workflow = ALL[name]
    engine = Engine(workflow)
    for state in workflow.states:
        expected = {event for source, event, _ in edges(workflow) if source == state}
        listed = engine.events_from(state)
        assert set(listed) == expected
        assert len(listed) == len(set(listed)), f"{state}: events listed twice"


# --- every other event is refused ---


@pytest.mark.parametrize(("name", "state", "event"), illegal_pairs())
def test_every_event_not_allowed_from_a_state_is_refused(name, state, event):
    workflow = ALL[name]
    engine = Engine(workflow, passing_guards(workflow))
    obj = SimpleNamespace(state=state, label=f"Object in {state}")
    allowed = engine.events_from(state)

    attempts = (
        lambda: engine.fire(obj, event, {}),
        lambda: engine.trigger(obj, event),
        lambda: engine.edge(obj, event),
        lambda: engine.failing_guards(obj, event, {}),
    )
    for attempt in attempts:
        with pytest.raises(IllegalTransition) as caught:
            attempt()
        error = caught.value
        assert obj.state == state
        assert error.state == state and error.event == event and error.obj is obj
        assert error.allowed == allowed
        message = str(error)
        assert f"Object in {state}" in message
        assert f"'{state}'" in message and f"'{event}'" in message
        assert name in message
        for other in allowed:
            assert other in message
        if not allowed:
            assert "allowed: none" in message


def test_unknown_event_is_an_illegal_transition_not_a_key_error():
    engine = Engine(ALL["call"])
    obj = SimpleNamespace(state="draft")
    with pytest.raises(IllegalTransition, match=r"allowed: publish, cancel"):
        engine.fire(obj, "explode", {})
    with pytest.raises(IllegalTransition):
        engine.trigger(obj, "explode")
    assert obj.state == "draft"


def test_error_names_the_object_by_id_when_it_has_no_label():
    engine = Engine(ALL["payment"])

    class Payment:
        def __init__(self) -> None:
            self.id = 42
            self.state = "paid"

    with pytest.raises(IllegalTransition, match=r"^Payment 42 is 'paid' in the payment workflow"):
        engine.trigger(Payment(), "approve")


# --- guards ---

TOY = Workflow(
    name="toy",
    states=("a", "b", "c"),
    initial="a",
    transitions=(
        Transition("go", ("a",), "b", ("manager",), guards=("one", "two", "three")),
        Transition("on", ("b",), "c", ("manager",), guards=("missing",)),
    ),
    final=frozenset({"c"}),
)


def test_all_failing_guard_reasons_are_returned_together_in_definition_order():
    seen = []

    def guard(name, reason):
        def check(obj, ctx):
            seen.append((name, ctx["who"]))
            return reason

        return check

    engine = Engine(
        TOY,
        {
            "one": guard("one", "first reason"),
            "two": guard("two", None),
            "three": guard("three", "third reason"),
        },
    )
    obj = SimpleNamespace(state="a", label="Toy 1")

    assert engine.failing_guards(obj, "go", {"who": "x"}) == ["first reason", "third reason"]
    with pytest.raises(GuardsFailed) as caught:
        engine.fire(obj, "go", {"who": "y"})

    assert caught.value.reasons == ["first reason", "third reason"]
    assert caught.value.event == "go" and caught.value.obj is obj
    assert "first reason; third reason" in str(caught.value)
    assert obj.state == "a"
    # every guard ran each time, none short-circuited after the first failure
    assert [n for n, who in seen if who == "y"] == ["one", "two", "three"]


def test_guards_receive_the_object_and_the_context():
    received = []
    engine = Engine(TOY)
    engine.register_guards(
        {
            "one": lambda obj, ctx: received.append((obj, dict(ctx))),
            "two": lambda obj, ctx: None,
            "three": lambda obj, ctx: None,
        }
    )
    obj = SimpleNamespace(state="a")
    engine.fire(obj, "go", {"now": "noon"})
    assert received == [(obj, {"now": "noon"})]
    assert obj.state == "b"


def test_a_guard_without_implementation_raises_unknown_guard():
    engine = Engine(TOY, {"one": lambda o, c: None, "two": lambda o, c: None})
    assert engine.missing_guards() == {"three", "missing"}

    obj = SimpleNamespace(state="a")
    with pytest.raises(UnknownGuard, match="three"):
        engine.fire(obj, "go", {})
    assert obj.state == "a"

    obj = SimpleNamespace(state="b")
    with pytest.raises(UnknownGuard, match="missing"):
        engine.failing_guards(obj, "on", {})
    assert obj.state == "b"


def test_trigger_never_evaluates_guards():
    engine = Engine(TOY, {"one": lambda o, c: "no", "two": lambda o, c: "no"})
    obj = SimpleNamespace(state="a")
    engine.trigger(obj, "go")
    assert obj.state == "b"


# --- one machine per workflow ---


def test_one_shared_machine_whatever_the_number_of_objects():
    workflow = ALL["application_two_stage"]
    engine = Engine(workflow, passing_guards(workflow))
    machine = engine.machine
    objects = [SimpleNamespace(state="draft") for _ in range(1000)]

    for obj in objects:
        engine.fire(obj, "submit", {})
        engine.trigger(obj, "admit")

    assert {obj.state for obj in objects} == {"in_evaluation"}
    assert engine.machine is machine
    assert engine.machine.models == []
    # nothing was bolted onto the objects (no add_model: no trigger methods, no machine)
    assert all(vars(obj) == {"state": "in_evaluation"} for obj in objects)


def test_objects_move_independently_through_the_shared_machine():
    engine = Engine(ALL["report"], passing_guards(ALL["report"]))
    first, second = SimpleNamespace(state="due"), SimpleNamespace(state="due")
    engine.fire(first, "submit", {})
    engine.fire(first, "request_changes", {})
    assert (first.state, second.state) == ("changes_requested", "due")
    engine.fire(second, "submit", {})
    assert (first.state, second.state) == ("changes_requested", "submitted")


# --- definitions validate ---


def test_a_transition_naming_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match="unknown state 'nowhere'"):
        Workflow(
            name="bad",
            states=("a", "b"),
            initial="a",
            transitions=(Transition("go", ("a",), "nowhere", ("manager",)),),
        )
    with pytest.raises(ValueError, match="unknown state 'elsewhere'"):
        Workflow(
            name="bad",
            states=("a", "b"),
            initial="a",
            transitions=(Transition("go", ("elsewhere",), "b", ("manager",)),),
        )


def test_an_unreachable_state_is_refused():
    with pytest.raises(ValueError, match=r"never reached: \['island'\]"):
        Workflow(
            name="bad",
            states=("a", "b", "island"),
            initial="a",
            transitions=(Transition("go", ("a",), "b", ("manager",)),),
        )


def test_an_initial_state_outside_the_states_is_refused():
    with pytest.raises(ValueError, match="initial state 'z'"):
        Workflow(name="bad", states=("a",), initial="z", transitions=())


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_shipped_definitions_are_consistent(name):
    workflow = ALL[name]
    assert workflow.name == name
    assert workflow.initial in workflow.states
    assert workflow.final <= set(workflow.states)
    assert len(set(workflow.states)) == len(workflow.states)
    pairs = [(source, t.event) for t in workflow.transitions for source in t.sources]
    assert len(pairs) == len(set(pairs)), "an event is ambiguous from some state"
    for t in workflow.transitions:
        assert set(t.by) <= KNOWN_ROLES, t
        assert set(t.notify) <= KNOWN_AUDIENCES, t
        assert t.by, f"{t.event}: nobody may fire it"
    for state in workflow.states:
        outgoing = workflow.transitions_from(state)
        if state in workflow.final:
            assert not outgoing, f"final state {state} has transitions out"
        else:
            assert outgoing, f"state {state} is a dead end but not final"


def _reachable(workflow: Workflow) -> set[str]:
    seen, todo = {workflow.initial}, [workflow.initial]
    while todo:
        state = todo.pop()
        for t in workflow.transitions_from(state):
            if t.dest not in seen:
                seen.add(t.dest)
                todo.append(t.dest)
    return seen


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_state_is_reachable_from_the_initial_state(name):
    workflow = ALL[name]
    assert _reachable(workflow) == set(workflow.states)


def test_the_application_workflows_follow_the_design():
    two = ALL["application_two_stage"]
    single = ALL["application_single_stage"]
    before_award_two = {
        "draft",
        "submitted",
        "in_evaluation",
        "invited",
        "fa_submitted",
        "fa_in_evaluation",
        "reserve",
        "provisionally_selected",
    }
    withdraw = two.find("draft", "withdraw")
    assert withdraw is not None and set(withdraw.sources) == before_award_two
    assert withdraw.by == ("applicant_owner",)
    assert set(single.find("draft", "withdraw").sources) == before_award_two - {
        "invited",
        "fa_submitted",
        "fa_in_evaluation",
    }
    for wf in (two, single):
        submit = wf.find("draft", "submit")
        assert submit.by == ("applicant_editor",)
        assert set(submit.guards) >= {
            "call_open",
            "before_deadline",
            "application_complete",
            "application_eligible",
        }
        assert wf.find("reserve", "select").by == ("manager", "system")
        assert wf.find("provisionally_selected", "award").effects == ("create_grant",)
        assert "promote_from_reserve" in wf.find("provisionally_selected", "withdraw").effects
        assert wf.find("provisionally_selected", "declare_ineligible").comment_required
        assert wf.find("awarded", "withdraw") is None
    assert two.find("invited", "lapse").by == ("system",)
    assert {e for e in single.events} & {"invite", "submit_full", "admit_full", "lapse"} == set()


def test_the_grant_call_assignment_payment_and_report_workflows_follow_the_design():
    grant, call = ALL["grant"], ALL["call"]
    assert grant.find("awaiting_signature", "sign").effects == ("plan_payments_and_reports",)
    assert grant.find("awaiting_signature", "lapse").guards == ("signature_period_expired",)
    assert {s for s in grant.states if grant.find(s, "terminate")} == {"active", "suspended"}
    assert grant.find("suspended", "resume").dest == "active"
    assert {s for s in call.states if call.find(s, "cancel")} == {"draft", "open"}
    assert "system" in call.find("open", "close").by
    assert set(call.find("draft", "publish").guards) == {
        "call_has_grid",
        "call_has_budget",
        "deadline_in_future",
    }
    assignment = ALL["assignment"]
    assert assignment.find("reopened", "submit").dest == "submitted"
    assert assignment.find("invited", "recuse").comment_required
    assert [ALL["payment"].find("planned", "request").dest] == ["requested"]
    assert ALL["report"].find("changes_requested", "submit").dest == "submitted"
    assert "overdue" not in ALL["report"].states


# --- diagrams ---


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_the_diagram_shows_every_edge_and_final_state(name):
    workflow = ALL[name]
    text = mermaid(workflow)
    assert text.startswith("stateDiagram-v2\n")
    assert f"[*] --> {workflow.initial}" in text
    for source, event, dest in edges(workflow):
        assert f"    {source} --> {dest}: {event} (" in text
    for state in workflow.final:
        assert f"    {state} --> [*]" in text


def test_write_diagrams_writes_then_reports_nothing_to_change(tmp_path):
    folder = tmp_path / "workflows"
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Title\n\n<!-- workflow diagrams: generated by `flask grants diagrams` -->"
        "\nstale\n<!-- end of workflow diagrams -->\nfooter\n"
    )

    changed = write_diagrams(folder, readme)
    assert set(changed) == {f"{n}.mmd" for n in ALL} | {"README.md"}
    assert (folder / "call.mmd").read_text() == mermaid(ALL["call"])
    text = readme.read_text()
    assert "stale" not in text and text.endswith("footer\n") and "```mermaid" in text

    assert write_diagrams(folder, readme, check=True) == []
    (folder / "grant.mmd").write_text("hand-drawn\n")
    assert write_diagrams(folder, readme, check=True) == ["grant.mmd"]
    assert (folder / "grant.mmd").read_text() == "hand-drawn\n"  # check never writes


def test_checking_diagrams_does_not_create_the_folder(tmp_path):
    folder = tmp_path / "docs" / "workflows"
    changed = write_diagrams(folder, None, check=True)
    assert len(changed) == len(ALL)
    assert not folder.exists()


# --- independence from the application ---


def test_importing_workflows_loads_neither_grants_nor_flask():
    code = (
        "import sys, workflows, workflows.diagrams, workflows.definitions, workflows.engine\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('grants', 'flask', 'flask_sqlalchemy', 'sqlalchemy', 'forms', 'reports'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_workflows_source_imports_nothing_of_ours_or_flask():
    package = Path(workflows.__file__).parent
    forbidden = {"grants", "flask", "forms", "reports", "flask_sqlalchemy", "sqlalchemy"}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
