"""The one transition pipeline: HTML, API, CLI and jobs all move objects through here.

transition(obj, event, actor):
  1. policy: may the actor know the object (404) and fire the event (403)?
  2. guards: every failing reason together (409)
  3. the state change, through the workflow's shared machine
  4. the effects declared on the transition
  5. an AuditEvent and the outbox rows, in the same transaction
  6. one commit; a stale version is a ConcurrentChange (409), never a lost update
Any failure rolls the whole transaction back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm.exc import StaleDataError

import workflows
from workflows import Engine, Transition

from .. import policy
from ..clock import moment
from ..extensions import db
from ..jobs import dispatch_committed
from ..models import AuditEvent, Stateful
from . import notifications
from .actors import SYSTEM, Actor
from .effects import EFFECTS
from .errors import (
    ConcurrentChange,
    GuardFailed,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from .guards import GUARDS

# Built once: building a statement costs more than running it on SQLite.
_NEW_AUDIT_EVENT = insert(AuditEvent.__table__)

ENGINES: dict[str, Engine] = {
    name: Engine(definition, GUARDS) for name, definition in workflows.ALL.items()
}


def check_implementations() -> None:
    """Every guard and effect a definition names must exist; checked at start-up."""
    missing = []
    for engine in ENGINES.values():
        missing += [f"guard {engine.workflow.name}.{g}" for g in sorted(engine.missing_guards())]
        missing += [
            f"effect {engine.workflow.name}.{e}"
            for e in sorted(engine.workflow.effect_names - set(EFFECTS))
        ]
    if missing:
        raise RuntimeError("workflow definitions name unimplemented parts: " + ", ".join(missing))


def engine_for(obj: Stateful) -> Engine:
    return ENGINES[obj.workflow_name]


@dataclass
class TransitionContext:
    """What guards and effects know about the transition under way."""

    obj: Any
    event: str
    actor: Actor
    now: datetime
    comment: str | None
    data: dict[str, Any]
    from_state: str
    transition: Transition
    follow_ups: list[tuple[Any, str, str | None]] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:  # guards read the context as a mapping
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def follow_up(self, obj: Any, event: str, comment: str | None = None) -> None:
        """Fire a further transition as the system, in this same transaction."""
        self.follow_ups.append((obj, event, comment))


@dataclass(frozen=True)
class AllowedTransition:
    event: str
    dest: str
    comment_required: bool
    blocked_by: tuple[str, ...]


def allowed_transitions(
    obj: Stateful, actor: Actor, *, check_guards: bool = True
) -> list[AllowedTransition]:
    """The events this actor may fire on the object now, each with any guard still failing."""
    engine = engine_for(obj)
    result = []
    for event in engine.events_from(obj.state):
        edge = engine.edge(obj, event)
        if not policy.may_fire(actor, obj, edge.by):
            continue
        blocked: list[str] = []
        if check_guards:
            ctx = _context(obj, event, actor, None, {}, edge)
            blocked = _failing(engine, obj, event, ctx)
        result.append(AllowedTransition(event, edge.dest, edge.comment_required, tuple(blocked)))
    return result


def _context(
    obj: Any,
    event: str,
    actor: Actor,
    comment: str | None,
    data: Mapping[str, Any],
    edge: Transition,
) -> TransitionContext:
    return TransitionContext(
        obj=obj,
        event=event,
        actor=actor,
        now=moment(),
        comment=comment,
        data=dict(data),
        from_state=obj.state,
        transition=edge,
    )


def _failing(engine: Engine, obj: Any, event: str, ctx: TransitionContext) -> list[str]:
    reasons: list[str] = []
    for reason in engine.failing_guards(obj, event, ctx):
        reasons.extend(reason if isinstance(reason, list) else [reason])
    return reasons


def transition(
    obj: Stateful,
    event: str,
    actor: Actor,
    *,
    comment: str | None = None,
    data: Mapping[str, Any] | None = None,
    commit: bool = True,
) -> Stateful:
    """Fire `event` on `obj` as `actor`; see the module docstring for the steps."""
    try:
        _apply(obj, event, actor, comment, data or {})
        if commit:
            db.session.commit()
            dispatch_committed()
    except StaleDataError:
        db.session.rollback()
        raise ConcurrentChange(
            f"{obj.label} was changed by someone else in the meantime; reload it and try again"
        ) from None
    except Exception:
        db.session.rollback()
        raise
    return obj


def commit() -> None:
    """Commit work done with `transition(..., commit=False)`, then hand over its mail."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise ConcurrentChange(
            "an object was changed by someone else in the meantime; reload it and try again"
        ) from None
    dispatch_committed()


def _apply(
    obj: Stateful, event: str, actor: Actor, comment: str | None, data: Mapping[str, Any]
) -> None:
    visible = policy.can_view(actor, obj)
    if not visible:
        raise NotFound(f"no such {obj.object_type.rstrip('s')}")
    engine = engine_for(obj)
    try:
        edge = engine.edge(obj, event)
    except workflows.IllegalTransition as exc:
        raise InvalidTransition(str(exc)) from None
    allowed = policy.may_fire(actor, obj, edge.by)
    if not allowed:
        raise PermissionDenied(f"you may not '{event}' {obj.label}: {allowed.reason}")
    comment = (comment or "").strip() or None
    if edge.comment_required and not comment:
        raise ValidationFailed(
            f"'{event}' needs a reason in the comment", {"comment": ["a reason is required"]}
        )

    ctx = _context(obj, event, actor, comment, data, edge)
    reasons = _failing(engine, obj, event, ctx)
    if reasons:
        raise GuardFailed(f"{obj.label} cannot '{event}'", reasons)

    # Who hears of it is resolved before anything changes, so these queries have
    # nothing to autoflush. The audit row and the notifications are append-only: they
    # go in as plain INSERTs at once; the state change follows at the commit's flush,
    # in the same transaction, where the version check turns a race into a conflict.
    recipients: dict[int, notifications.Recipient] = {}
    for audience in edge.notify:
        for user in notifications.recipients(audience, obj):
            if user.id != actor.id or edge.notify_actor:
                recipients.setdefault(user.id, user)
    with db.session.no_autoflush:
        engine.trigger(obj, event)
        for effect in edge.effects:
            EFFECTS[effect](obj, ctx)
        db.session.connection().execute(
            _NEW_AUDIT_EVENT,
            [
                {
                    "occurred_at": ctx.now,
                    "actor_id": actor.id,
                    "actor_label": actor.label,
                    "object_type": obj.object_type,
                    "object_id": obj.id,
                    "event": event,
                    "from_state": ctx.from_state,
                    "to_state": obj.state,
                    "comment": comment,
                    "data": _json_safe(data),
                }
            ],
        )
        if recipients:
            message_context = {
                "object": obj.label,
                "from_state": ctx.from_state,
                "to_state": obj.state,
                "comment": comment,
                "event": event,
            }
            notifications.announce(
                f"{engine.workflow.name}.{event}", recipients.values(), obj, message_context
            )

    for follow_obj, follow_event, follow_comment in ctx.follow_ups:
        _apply(follow_obj, follow_event, SYSTEM, follow_comment, {})


def _json_safe(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | None) else str(v) for k, v in data.items()
    }


def history(obj: Stateful) -> list[AuditEvent]:
    """The object's audit trail, oldest first."""
    return list(
        db.session.scalars(
            db.select(AuditEvent)
            .where(AuditEvent.object_type == obj.object_type, AuditEvent.object_id == obj.id)
            .order_by(AuditEvent.id)
        )
    )
