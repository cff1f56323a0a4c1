"""rq jobs producing documents: a grant's contract PDF, rendered by id.

Jobs receive ids, never objects. The rendered contract is written to the
instance folder (``contracts/<grant number>-v<version>.pdf``, replaced
atomically) and the version's document hash recorded, so the file a grantee
downloads is the exact document a signature names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context

from ..extensions import db
from ..models import Grant

RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600


def contracts_folder() -> Path:
    folder = Path(current_app.instance_path) / "contracts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def contract_path(grant: Grant) -> Path:
    version = grant.current_contract
    number = version.number if version is not None else 0
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in grant.number)
    return contracts_folder() / f"{safe}-v{number}.pdf"


def render_contract_file(grant_id: int) -> str:
    """Render the grant's current contract to its file; returns the document's SHA-256."""
    from ..services.contracts import render_contract

    grant = db.session.get(Grant, grant_id)
    if grant is None:
        raise LookupError(f"no grant {grant_id}")
    document = render_contract(grant)
    target = contract_path(grant)
    partial = target.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(document)
    os.replace(partial, target)
    digest = grant.current_contract.document_sha256  # type: ignore[union-attr]
    db.session.commit()
    return str(digest)


def render_contract_job(grant_id: int) -> str:
    """The rq job: inside the worker's app context (or the caller's, when run in-process)."""
    if has_app_context():
        return render_contract_file(grant_id)
    from .worker import app_context

    with app_context():
        try:
            return render_contract_file(grant_id)
        finally:
            db.session.remove()


def enqueue_contract_renders(grant_ids: list[int]) -> list[Any]:
    """Put one render job per grant on the queue; without Redis, render them here and now."""
    if not current_app.config.get("REDIS_URL"):
        return [render_contract_file(grant_id) for grant_id in grant_ids]
    from . import queue

    rq_queue = queue()
    return rq_queue.enqueue_many(
        [
            rq_queue.prepare_data(
                "grants.jobs.documents.render_contract_job",
                args=(grant_id,),
                job_id=f"contract-{grant_id}",
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
            )
            for grant_id in grant_ids
        ]
    )
