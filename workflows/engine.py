"""A small engine over `transitions`: declarative workflows, one shared machine each.

A workflow is data (states, transitions with named guards and effects, who may
fire them). The engine builds one `transitions.Machine(model=None)` per
workflow and triggers events on any object that carries a `state` attribute,
so no per-object machinery is ever created. Guards are evaluated by the engine
itself, all of them, so a caller learns every failing reason at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine, MachineError

# A guard receives the object and a context mapping and returns None when it
# holds, or a sentence saying why it does not.
Guard = Callable[[Any, Mapping[str, Any]], str | None]


class WorkflowError(Exception):
    """Base of the errors the engine raises."""


class IllegalTransition(WorkflowError):
    """The event cannot be fired from the object's current state."""

    def __init__(self, workflow: str, obj: Any, state: str, event: str, allowed: list[str]):
        self.workflow = workflow
        self.obj = obj
        self.state = state
        self.event = event
        self.allowed = allowed
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"{describe(obj)} is '{state}' in the {workflow} workflow: "
            f"'{event}' cannot be fired there (allowed: {allowed_text})"
        )


class GuardsFailed(WorkflowError):
    """One or more guards of the transition do not hold; `reasons` lists them all."""

    def __init__(self, obj: Any, event: str, reasons: list[str]):
        self.obj = obj
        self.event = event
        self.reasons = reasons
        super().__init__(f"{describe(obj)} cannot '{event}': " + "; ".join(reasons))


class UnknownGuard(WorkflowError):
    """A definition names a guard for which no implementation was registered."""


def describe(obj: Any) -> str:
    """A short human name for an object in error messages."""
    label = getattr(obj, "label", None)
    if label:
        return str(label)
    ident = getattr(obj, "id", None)
    return f"{type(obj).__name__} {ident}" if ident is not None else type(obj).__name__


@dataclass(frozen=True)
class Transition:
    """One edge: `event` moves an object from any of `sources` to `dest`.

    `by` names the roles that may fire it (checked by the application's
    policy, not here), `guards` and `effects` name conditions and side
    effects implemented by the application, `notify` names notification
    kinds the application turns into outbox messages.
    """

    event: str
    sources: tuple[str, ...]
    dest: str
    by: tuple[str, ...]
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    # The actor is told too: a receipt is proof they keep, not news to them.
    notify_actor: bool = False
    comment_required: bool = False
    label: str = ""


@dataclass(frozen=True)
class Workflow:
    name: str
    states: tuple[str, ...]
    initial: str
    transitions: tuple[Transition, ...]
    final: frozenset[str] = field(default_factory=frozenset)
    description: str = ""

    def __post_init__(self) -> None:
        known = set(self.states)
        if self.initial not in known:
            raise ValueError(f"{self.name}: initial state {self.initial!r} is not a state")
        for t in self.transitions:
            for s in (*t.sources, t.dest):
                if s not in known:
                    raise ValueError(f"{self.name}: {t.event} names unknown state {s!r}")
        unreachable = known - {self.initial} - {t.dest for t in self.transitions}
        if unreachable:
            raise ValueError(f"{self.name}: states never reached: {sorted(unreachable)}")

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.event for t in self.transitions))

    @property
    def guard_names(self) -> frozenset[str]:
        return frozenset(g for t in self.transitions for g in t.guards)

    @property
    def effect_names(self) -> frozenset[str]:
        return frozenset(e for t in self.transitions for e in t.effects)

    def transitions_from(self, state: str) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if state in t.sources)

    def find(self, state: str, event: str) -> Transition | None:
        for t in self.transitions:
            if t.event == event and state in t.sources:
                return t
        return None


class Engine:
    """Fires a workflow's events on objects through one shared machine."""

    def __init__(self, workflow: Workflow, guards: Mapping[str, Guard] | None = None):
        self.workflow = workflow
        self.guards: dict[str, Guard] = dict(guards or {})
        self.machine = Machine(
            model=None,
            states=list(workflow.states),
            initial=workflow.initial,
            transitions=[
                {"trigger": t.event, "source": list(t.sources), "dest": t.dest}
                for t in workflow.transitions
            ],
            auto_transitions=False,
            model_attribute="state",
            name=workflow.name,
        )
        # Resolve per (state, event) once so lookups on the hot path are a dict get.
        self._edges: dict[tuple[str, str], Transition] = {
            (s, t.event): t for t in workflow.transitions for s in t.sources
        }
        self._allowed: dict[str, list[str]] = {
            s: list(dict.fromkeys(t.event for t in workflow.transitions_from(s)))
            for s in workflow.states
        }

    def register_guards(self, guards: Mapping[str, Guard]) -> None:
        self.guards.update(guards)

    def missing_guards(self) -> set[str]:
        return set(self.workflow.guard_names) - set(self.guards)

    def events_from(self, state: str) -> list[str]:
        return list(self._allowed.get(state, []))

    def edge(self, obj: Any, event: str) -> Transition:
        """The transition `event` would take from the object's state, or IllegalTransition."""
        state = obj.state
        edge = self._edges.get((state, event))
        if edge is None:
            raise IllegalTransition(self.workflow.name, obj, state, event, self.events_from(state))
        return edge

    def failing_guards(self, obj: Any, event: str, context: Mapping[str, Any]) -> list[str]:
        """Every reason the transition may not happen now; empty when all guards hold."""
        reasons: list[str] = []
        for name in self.edge(obj, event).guards:
            guard = self.guards.get(name)
            if guard is None:
                raise UnknownGuard(f"{self.workflow.name}: no implementation for guard {name!r}")
            reason = guard(obj, context)
            if reason:
                reasons.append(reason)
        return reasons

    def fire(self, obj: Any, event: str, context: Mapping[str, Any] | None = None) -> Transition:
        """Check the guards, then move the object; returns the transition taken."""
        edge = self.edge(obj, event)
        reasons = self.failing_guards(obj, event, context or {})
        if reasons:
            raise GuardsFailed(obj, event, reasons)
        self.trigger(obj, event)
        return edge

    def trigger(self, obj: Any, event: str) -> None:
        """The state change alone, through the shared machine (no guards)."""
        try:
            self.machine.events[event].trigger(obj)
        except (MachineError, KeyError):
            raise IllegalTransition(
                self.workflow.name, obj, obj.state, event, self.events_from(obj.state)
            ) from None
