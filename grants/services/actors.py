"""Who acts: a user, or the system itself (sweeps, jobs, effects)."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import User


@dataclass(frozen=True)
class SystemActor:
    """The application acting on its own, e.g. a deadline sweep; named in the audit trail."""

    name: str = "system"
    id: None = None

    @property
    def label(self) -> str:
        return "system" if self.name == "system" else f"system ({self.name})"


Actor = User | SystemActor

SYSTEM = SystemActor()


def actor_label(actor: Actor) -> str:
    return actor.label


def is_system(actor: Actor) -> bool:
    return isinstance(actor, SystemActor)
