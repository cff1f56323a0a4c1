"""The application as rq workers see it: one app per worker process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

_app: Flask | None = None


@contextmanager
def app_context() -> Iterator[Flask]:
    global _app
    if _app is None:
        from .. import create_app

        _app = create_app()
    with _app.app_context():
        yield _app
