"""Deadline surge: many applicants saving and submitting in the last minute.

gunicorn serves the application against a scratch PostgreSQL database. 200
applicants (20 with --quick), each with a complete draft and logged in, act
during the minute (20 s with --quick) before the call's deadline, which is set
in real time when the surge starts: they save sections throughout, most submit
in a burst in the last seconds, and one in ten first tries a few seconds after
the deadline. No request is retried: this is the server on a good day.

Then the database is asked what it holds. Figures:

- attempted: applicants who sent a submission (in time and late);
- stored: submissions in the database; lost: submissions the server
  acknowledged (redirect to the receipt) that are not stored (target 0);
  duplicated: applications with more than one submission or receipt (target 0);
- refused_after_deadline: late submissions refused with the deadline's message
  (target: all of attempted_after_deadline); stored_after_deadline: late ones
  stored anyway (target 0); refused_in_time: sent before the deadline but
  judged after it by the server (queued behind the burst);
- saves_after_deadline: draft saves answered after the deadline (drafts stay
  editable; only submitting is refused);
- half_written: applications neither a clean draft nor submitted with their
  reference, snapshot and receipt (target 0);
- errors: any other answer (a 500, a dropped connection, a save refused);
- p50_ms, p95_ms, requests_per_s over every request of the surge.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .common import Figure, flag, make_app, note, per_second, percentile, scratch_postgres
from .crowd import (
    app_environment,
    deadline_after,
    gunicorn,
    log_in_all,
    plans,
    report_errors,
    seed_drafts,
    set_deadline,
    surge,
    verify,
)

APPLICANTS = 200
QUICK_APPLICANTS = 20
WINDOW_SECONDS = 60.0
QUICK_WINDOW_SECONDS = 20.0
LATE_SHARE = 0.1
BURST_SHARE = 0.7
SAVES = 3
QUICK_SAVES = 2


def run(quick: bool) -> Iterator[Figure]:
    count = QUICK_APPLICANTS if quick else APPLICANTS
    window = QUICK_WINDOW_SECONDS if quick else WINDOW_SECONDS
    with tempfile.TemporaryDirectory(prefix="bench-surge-") as name, \
            scratch_postgres(f"bench_surge_{os.getpid()}") as url:
        if url is None:
            note("no PostgreSQL server: the surge is skipped")
            return
        folder = Path(name)
        started = time.perf_counter()
        app = make_app(url, folder)
        with app.app_context():
            from grants.extensions import db

            db.create_all()
            seeded = seed_drafts(count)
            db.session.remove()
            db.engine.dispose()
        note(f"{count} drafts seeded in {time.perf_counter() - started:.1f} s")
        schedule = plans(count, window, late_share=LATE_SHARE, burst_share=BURST_SHARE,
                         burst_seconds=min(10.0, window / 4),
                         saves=QUICK_SAVES if quick else SAVES)
        with gunicorn(app_environment(url, folder), folder) as server:
            note(f"gunicorn ready at {time.perf_counter() - started:.1f} s")
            clients = log_in_all(server.port, count, seeded["drafts"])
            note(f"{count} applicants logged in at {time.perf_counter() - started:.1f} s; "
                 f"the deadline is {window:.0f} s away")
            deadline = deadline_after(window + 0.5)
            set_deadline(url, seeded["call_id"], deadline)
            outcomes, latencies, elapsed, _start = surge(clients, seeded["drafts"], schedule)
            for client in clients:
                client.close()
            report_errors(outcomes, server)
        stored = verify(url)
        note(f"verified at {time.perf_counter() - started:.1f} s")

    late = [o for o in outcomes if o.late]
    in_time = [o for o in outcomes if not o.late]
    acknowledged = [o for o in outcomes if o.acknowledged]
    lost = [o for o in acknowledged if stored.submissions.get(o.application_id, 0) == 0]
    duplicated = [
        app_id for app_id in stored.states
        if stored.submissions.get(app_id, 0) > 1 or stored.receipts.get(app_id, 0) > 1
    ]
    refused_late = [o for o in late if o.refused and o.refused_clearly]
    stored_late = [o for o in late if stored.submissions.get(o.application_id, 0)]
    refused_in_time = [o for o in in_time if o.refused]
    # Anything else is an error: an unclear refusal, a 500, a dropped connection, an
    # acknowledged submission without its row, a refusal whose application was stored.
    unclear = [o for o in outcomes if o.refused and not o.refused_clearly]
    refused_but_stored = [
        o for o in outcomes if o.refused and stored.submissions.get(o.application_id, 0)
    ]
    errors = (sum(len(o.unexpected) for o in outcomes) + len(unclear) + len(refused_but_stored))
    half_written = stored.half_written()
    on_time = stored.latest_submitted_at is None or stored.latest_submitted_at <= deadline
    saves = sum(o.saves_ok for o in outcomes)
    # Drafts stay editable after the deadline (only submitting is refused): counted, shown.
    saves_late = sum(moment > window for o in outcomes for moment in o.saved_at)
    note(f"{len(latencies)} requests in {elapsed:.1f} s; {saves} saves, "
         f"{len(acknowledged)} submissions acknowledged, {len(refused_late)} late refused")

    yield Figure("applicants", count, "count")
    yield Figure("window_s", window, "s")
    yield Figure("attempted", sum(o.attempts > 0 for o in outcomes), "count")
    yield Figure("attempted_in_time", len(in_time), "count")
    yield Figure("attempted_after_deadline", len(late), "count")
    yield Figure("acknowledged", len(acknowledged), "count")
    yield Figure("stored", sum(stored.submissions.values()), "count")
    yield Figure("receipts", sum(stored.receipts.values()), "count")
    yield Figure("lost", len(lost), "count")
    yield Figure("duplicated", len(duplicated), "count")
    yield Figure("refused_after_deadline", len(refused_late), "count")
    yield Figure("stored_after_deadline", len(stored_late), "count")
    yield Figure("refused_in_time", len(refused_in_time), "count")
    yield Figure("half_written", len(half_written), "count")
    yield Figure("saves", saves, "count")
    yield Figure("saves_after_deadline", saves_late, "count")
    yield Figure("errors", errors, "count")
    yield Figure("requests", len(latencies), "count")
    yield Figure("requests_per_s", per_second(len(latencies), elapsed), "per_s")
    if latencies:
        yield Figure("p50_ms", percentile(latencies, 0.50) * 1000, "ms")
        yield Figure("p95_ms", percentile(latencies, 0.95) * 1000, "ms")
    yield flag("submissions_before_deadline", on_time)
    yield flag(
        "target_met",
        not lost and not duplicated and not errors and not half_written and not stored_late
        and len(refused_late) == len(late) and on_time,
    )
