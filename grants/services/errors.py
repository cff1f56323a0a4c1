"""Errors raised by use cases; each carries a stable code and maps to one HTTP status.

Messages are English in the services (logs, the API) and marked with `N_` for the
catalogue; pages show them in the reader's language with `gettext(exc.template,
**exc.params)`, the figures passed as named placeholders, never formatted in.
"""

from __future__ import annotations

from collections.abc import Mapping


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it: pages translate it when shown."""
    return message


class DomainError(Exception):
    code = "domain_error"
    status = 400

    def __init__(
        self,
        message: str,
        reasons: list[str] | None = None,
        *,
        params: Mapping[str, object] | None = None,
    ):
        # `template` is the catalogue's message; `message` has the figures filled in.
        self.template = message
        self.params = dict(params or {})
        text = message % self.params if self.params else message
        super().__init__(text)
        self.message = text
        self.reasons = reasons or [text]

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "reasons": self.reasons}


class NotFound(DomainError):
    """The object does not exist, or the actor may not know that it does."""

    code = "not_found"
    status = 404


class PermissionDenied(DomainError):
    code = "forbidden"
    status = 403


class InvalidTransition(DomainError):
    """The event cannot be fired from the object's state (names the allowed ones)."""

    code = "invalid_transition"
    status = 409


class GuardFailed(DomainError):
    """One or more conditions of the transition do not hold; `reasons` has them all."""

    code = "guard_failed"
    status = 409


class ConcurrentChange(DomainError):
    """Someone else changed the object since it was read; nothing was overwritten."""

    code = "conflict"
    status = 409


class ValidationFailed(DomainError):
    code = "invalid"
    status = 422

    def __init__(
        self,
        message: str,
        fields: dict[str, list[str]] | None = None,
        *,
        params: Mapping[str, object] | None = None,
    ):
        super().__init__(message, params=params)
        self.fields = fields or {}

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "fields": self.fields}
