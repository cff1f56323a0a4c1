"""The application as rq workers see it, and the worker and scheduler loops."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from flask import Flask, current_app

log = logging.getLogger(__name__)
_app: Flask | None = None


@contextmanager
def app_context() -> Iterator[Flask]:
    """One app per worker process, built from the environment on first use."""
    global _app
    if _app is None:
        from .. import create_app

        _app = create_app()
    with _app.app_context():
        yield _app


class FewerRoundTrips:
    """rq worker bookkeeping in fewer Redis round trips, with the same writes.

    Between two jobs rq sends its heartbeat twice, each as three separate commands,
    and writes the "idle" state it has just written: about half of the twenty round
    trips a job costs. Here a heartbeat is one pipelined round trip and an unchanged
    state is not written again.
    """

    connection: Any
    _state: str

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)  # type: ignore[misc]
            return
        with self.connection.pipeline(transaction=False) as own:
            super().heartbeat(timeout, pipeline=own)  # type: ignore[misc]
            own.execute()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        if pipeline is None and state == getattr(self, "_state", None):
            return
        super().set_state(state, pipeline=pipeline)  # type: ignore[misc]


@cache
def worker_classes() -> tuple[type, type]:
    """The forking and the in-process rq worker classes, with FewerRoundTrips."""
    from rq import SimpleWorker, Worker

    class ForkingWorker(FewerRoundTrips, Worker):
        pass

    class InProcessWorker(FewerRoundTrips, SimpleWorker):
        pass

    return ForkingWorker, InProcessWorker


def run_worker(*, burst: bool = False, fork: bool = True, with_scheduler: bool = True) -> None:
    """Work the app's queue (call inside an app context; REDIS_URL must be set).

    fork=True runs each job in a fresh child (rq's default: a crashing job cannot harm
    the worker); fork=False runs jobs in the worker process, which keeps the database
    pool and the SMTP connection warm and is several times faster for mail; the
    deliveries then share one database connection (see delivery.worker_connection).
    """
    global _app
    from .. import mail
    from . import queue
    from .delivery import worker_connection

    _app = current_app._get_current_object()  # type: ignore[attr-defined]
    forking, in_process = worker_classes()
    worker_class = forking if fork else in_process
    rq_queue = queue()
    worker = worker_class([rq_queue], connection=rq_queue.connection)
    try:
        if fork:  # each job runs in a child: nothing can be kept between jobs
            worker.work(burst=burst, with_scheduler=with_scheduler)
        else:
            with worker_connection():
                worker.work(burst=burst, with_scheduler=with_scheduler)
    finally:
        mail.close()


def run_scheduler(interval: int, *, once: bool = False) -> None:
    """Enqueue the periodic sweeps every `interval` seconds (call inside an app context).

    Several schedulers may run: the sweeps are idempotent, so a second one only costs
    a little work.
    """
    from . import enqueue_sweeps

    while True:
        try:
            enqueue_sweeps()
        except Exception:  # Redis briefly away: try again next interval
            log.exception("could not enqueue the sweeps")
        if once:
            return
        time.sleep(interval)
