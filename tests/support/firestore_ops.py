"""Count the Firestore RPCs one thread makes: every call of the GAPIC client (one RPC each),
with the documents it read, the writes it committed and the queries it ran."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager

from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

RPCS = (
    "batch_get_documents",
    "batch_write",
    "begin_transaction",
    "commit",
    "create_document",
    "delete_document",
    "get_document",
    "list_documents",
    "partition_query",
    "rollback",
    "run_aggregation_query",
    "run_query",
    "update_document",
)


def _field(request, name: str):
    if isinstance(request, dict):
        return request.get(name) or []
    return getattr(request, name, None) or []


class Operations(Counter):
    """`rpcs` (round trips), `reads` (documents read by key or returned by queries),
    `writes` (documents written by commits), `queries`, and one count per RPC name."""


@contextmanager
def counted_firestore(all_threads: bool = False):
    """Operations of the calling thread inside the block (publisher threads are not counted),
    or of every thread (a sweep's workers)."""
    ops = Operations()
    me = None if all_threads else threading.get_ident()
    lock = threading.Lock()
    originals = {name: getattr(FirestoreClient, name) for name in RPCS}

    def wrap(name, original):
        def call(self, request=None, *args, **kwargs):
            mine = me is None or threading.get_ident() == me
            if mine:
                lock.acquire()
                ops["rpcs"] += 1
                ops[name] += 1
                if name == "batch_get_documents":
                    ops["reads"] += len(_field(request, "documents"))
                elif name == "commit":
                    ops["writes"] += len(_field(request, "writes"))
                elif name in ("run_query", "run_aggregation_query"):
                    ops["queries"] += 1
                lock.release()
            result = original(self, request, *args, **kwargs)
            if mine and name == "run_query":
                return _counting(result, ops, lock)
            return result

        return call

    for name, original in originals.items():
        setattr(FirestoreClient, name, wrap(name, original))
    try:
        yield ops
    finally:
        for name, original in originals.items():
            setattr(FirestoreClient, name, original)


def _counting(responses, ops: Operations, lock: threading.Lock):
    for response in responses:
        if getattr(response, "document", None) and response.document.name:
            with lock:
                ops["reads"] += 1
        yield response
