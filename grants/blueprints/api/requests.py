"""Reading what a client sent: list parameters and transition bodies, each field checked.

Anything that does not fit becomes one ValidationFailed (422, code `invalid`)
naming every field at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...services.errors import ValidationFailed
from .resources import MAX_ID, Collection, FieldError

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
COMMENT_MAX = 5000
_ETAG = re.compile(r'^(?:W/)?"(\d{1,10})"$|^(\d{1,10})$')


@dataclass(frozen=True)
class ListQuery:
    limit: int
    after: int
    filters: dict[str, Any]


def _int(raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise FieldError("an integer") from None
    if not low <= value <= high:
        raise FieldError(f"an integer from {low} to {high}")
    return value


def list_query(collection: Collection, args: Mapping[str, str]) -> ListQuery:
    """limit, after (the last id of the previous page) and the collection's filters."""
    errors: dict[str, list[str]] = {}
    limit, after = DEFAULT_LIMIT, 0
    filters: dict[str, Any] = {}
    try:
        if "limit" in args:
            limit = _int(args["limit"], 1, MAX_LIMIT)
    except FieldError as exc:
        errors["limit"] = [str(exc)]
    try:
        if "after" in args:
            after = _int(args["after"], 0, MAX_ID)
    except FieldError as exc:
        errors["after"] = [str(exc)]
    for spec in collection.filters:
        if spec.name in args:
            try:
                filters[spec.name] = spec.parse(args[spec.name])
            except FieldError as exc:
                errors[spec.name] = [str(exc)]
    if errors:
        raise ValidationFailed("the query parameters are not valid", errors)
    return ListQuery(limit, after, filters)


@dataclass(frozen=True)
class TransitionRequest:
    name: str
    comment: str | None
    data: dict[str, Any]
    version: int | None


def _text(value: Any, field: str, errors: dict[str, list[str]], maximum: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors[field] = ["a string"]
    elif len(value) > maximum:
        errors[field] = [f"at most {maximum} characters"]
    elif "\x00" in value:
        errors[field] = ["no NUL characters"]
    else:
        return value
    return None


def transition_request(collection: Collection, body: Any) -> TransitionRequest:
    """{"name": ..., "comment": ..., "data": {...}, "version": ...}, each field checked."""
    if not isinstance(body, dict):
        raise ValidationFailed(
            'send a JSON object: {"name": ..., "comment": ..., "data": {...}}',
            {"body": ["a JSON object"]},
        )
    errors: dict[str, list[str]] = {}
    for key in sorted(set(body) - {"name", "comment", "data", "version"}):
        errors[key] = ["unknown field"]

    name = body.get("name")
    if not isinstance(name, str) or not name:
        errors["name"] = ["required: the name of a transition"]
        name = ""
    elif name not in collection.events:
        errors["name"] = ["one of " + ", ".join(collection.events)]

    comment = _text(body.get("comment"), "comment", errors, COMMENT_MAX)

    version = body.get("version")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_ID
    ):
        errors["version"] = [f"an integer from 1 to {MAX_ID}"]
        version = None

    raw_data = body.get("data", {})
    data: dict[str, Any] = {}
    if raw_data is None:
        raw_data = {}
    if not isinstance(raw_data, dict):
        errors["data"] = ["a JSON object"]
    else:
        fields = collection.data.get(name, {})
        for key, value in raw_data.items():
            spec = fields.get(key)
            if spec is None:
                accepted = ", ".join(fields) if fields else "none"
                errors[f"data.{key}"] = [f"not a field of '{name}' (accepted: {accepted})"]
                continue
            try:
                data[key] = spec.parse(value)
            except FieldError as exc:
                errors[f"data.{key}"] = [str(exc)]

    if errors:
        raise ValidationFailed("the transition request is not valid", errors)
    return TransitionRequest(name, comment, data, version)


def if_match_version(header: str | None) -> int | None:
    """The version an If-Match header names ("*" and no header name none)."""
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.match(header.strip())
    if match is None:
        raise ValidationFailed(
            'If-Match takes the ETag of the resource, e.g. "3"',
            {"If-Match": ['an ETag of this API, e.g. "3"']},
        )
    value = int(match.group(1) or match.group(2))
    if value > MAX_ID:
        raise ValidationFailed("If-Match names no version", {"If-Match": ["too large"]})
    return value


def etag(version: int) -> str:
    return f'"{version}"'
