"""State machines of the grant lifecycle: declarative definitions and a small engine.

This package depends on nothing of the application (no Flask, no models), so
the workflows can be read, tested and drawn on their own.
"""

from .definitions import ALL
from .engine import (
    Engine,
    GuardsFailed,
    IllegalTransition,
    Transition,
    UnknownGuard,
    Workflow,
    WorkflowError,
)

__all__ = [
    "ALL",
    "Engine",
    "GuardsFailed",
    "IllegalTransition",
    "Transition",
    "UnknownGuard",
    "Workflow",
    "WorkflowError",
]
