"""Data packages in the control-plane Firestore database.

Layout (every tenant under its own path):

    organisations/{org}/packages/{id}                         package (no contents)
    organisations/{org}/packages/{id}/chunks/{seq}            contents text, < 1 MiB each
    organisations/{org}/packages/{id}/actions/{id}            pack/generate/import/deploy/rollback
    organisations/{org}/package_deployments/{id}              one deploy (report, progress)
    organisations/{org}/package_deployments/{id}/before_images/{seq}   undo journal
    organisations/{org}/package_deployments/{id}/pk_mappings/{seq}     large key maps

Lists filter on equality fields and order by `created_at`, so each query needs
one composite index (terraform/firestore.tf) and costs its page, not the
collection.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.errors import NotFound
from shared.models.ids import UUID
from shared.models.package import UNFINISHED
from shared.store.tenancy import tenant_documents

DESC = firestore.Query.DESCENDING
INLINE_MAPPING_BYTES = 512 * 1024
JOURNAL_PIECE_BYTES = 700 * 1024
PIECE = JOURNAL_PIECE_BYTES


def new_id() -> str:
    return str(uuid.uuid4())


def check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not UUID.match(value):
        raise NotFound(f"{what} {value} not found")
    return value


class PackageStore:
    """Packages, their chunks and actions, package deployments and their undo journals."""

    def __init__(self, db: firestore.Client):
        self.db = db

    # -- paths --------------------------------------------------------------------

    def org(self, org: str):
        return self.db.collection("organisations").document(org)

    def package_ref(self, org: str, package_id: str):
        return self.org(org).collection("packages").document(package_id)

    def deployment_ref(self, org: str, deployment_id: str):
        return self.org(org).collection("package_deployments").document(deployment_id)

    # -- packages -----------------------------------------------------------------

    def chunk_sink(self, org: str, package_id: str):
        """A ContentsWriter sink writing each chunk as it fills."""
        chunks = self.package_ref(org, package_id).collection("chunks")

        def sink(chunk_id: str, chunk: dict[str, Any]) -> None:
            chunks.document(chunk_id).set(chunk)

        return sink

    def fetcher(self, org: str, package_id: str):
        """`fetch(ids)` -> the chunks with those ids, in order."""
        chunks = self.package_ref(org, package_id).collection("chunks")

        def fetch(ids: list[str]) -> Iterable[dict[str, Any]]:
            refs = [chunks.document(i) for i in ids]
            found = {snap.id: snap.to_dict() for snap in self.db.get_all(refs) if snap.exists}
            for chunk_id in ids:
                if chunk_id not in found:
                    raise RuntimeError(f"package {package_id} is missing chunk {chunk_id}")
                yield found[chunk_id]

        return fetch

    def save_package(self, org: str, record: dict[str, Any]) -> None:
        self.package_ref(org, record["id"]).set(record)

    def discard_chunks(self, org: str, package_id: str) -> None:
        """Delete the chunks of a package that was never saved (pack failed half-way)."""
        chunks = self.package_ref(org, package_id).collection("chunks")
        batch, count = self.db.batch(), 0
        for snap in chunks.select([]).stream():
            batch.delete(snap.reference)
            count += 1
            if count % 400 == 0:
                batch.commit()
                batch = self.db.batch()
        if count % 400:
            batch.commit()

    def get_package(self, org: str, package_id: str) -> dict[str, Any]:
        check_id(package_id, "package")
        snap = self.package_ref(org, package_id).get()
        if not snap.exists:
            raise NotFound(f"package {package_id} not found")
        return snap.to_dict()

    def list_packages(self, org: str, filters: dict[str, Any], limit: int, offset: int):
        query = self.org(org).collection("packages")
        status = filters.get("status")
        if status is None:
            query = query.where(filter=FieldFilter("active", "==", True))
        for name in ("package_type", "environment", "status"):
            if filters.get(name) is not None:
                query = query.where(filter=FieldFilter(name, "==", filters[name]))
        query = query.order_by("created_at", direction=DESC).offset(offset).limit(limit)
        return [snap.to_dict() for snap in query.stream()]

    def read_package(self, transaction, org: str, package_id: str) -> dict[str, Any]:
        """The package, read in `transaction`; NotFound when it does not exist."""
        snap = self.package_ref(org, check_id(package_id, "package")).get(transaction=transaction)
        if not snap.exists:
            raise NotFound(f"package {package_id} not found")
        return snap.to_dict()

    def write_package_changes(self, transaction, org: str, package_id: str, changes) -> None:
        transaction.update(self.package_ref(org, package_id), changes)

    # -- actions ------------------------------------------------------------------

    def add_action(self, org: str, package_id: str, action: dict[str, Any]) -> dict[str, Any]:
        action = {"id": new_id(), "package_id": package_id, **action}
        self.package_ref(org, package_id).collection("actions").document(action["id"]).set(action)
        return action

    def list_actions(self, org: str, package_id: str, limit: int, offset: int = 0):
        query = (
            self.package_ref(org, package_id)
            .collection("actions")
            .order_by("performed_at", direction=DESC)
            .offset(offset)
            .limit(limit)
        )
        return [snap.to_dict() for snap in query.stream()]

    # -- package deployments ------------------------------------------------------

    def create_deployment(self, org: str, record: dict[str, Any]) -> None:
        self.deployment_ref(org, record["id"]).create(_stored_deployment(record))

    def save_deployment(self, org: str, record: dict[str, Any]) -> None:
        ref = self.deployment_ref(org, record["id"])
        stored = _stored_deployment(record)
        mapping_text = stored.pop("pk_mapping_json", None)
        if mapping_text is not None and len(mapping_text.encode()) > INLINE_MAPPING_BYTES:
            pieces = ref.collection("pk_mappings")
            data = mapping_text.encode()
            count = 0
            for count, start in enumerate(range(0, len(data), JOURNAL_PIECE_BYTES), start=1):
                pieces.document(f"{count:06d}").set({"data": data[start : start + PIECE]})
            stored["pk_mapping_pieces"] = count
        elif mapping_text is not None:
            stored["pk_mapping_json"] = mapping_text
        ref.set(stored)

    def stage_deployment(self, writer, org: str, record: dict[str, Any]) -> None:
        """Write a new deployment record with `writer` (a batch or a transaction)."""
        writer.create(self.deployment_ref(org, record["id"]), _stored_deployment(record))

    def read_deployment(self, transaction, org: str, deployment_id: str) -> dict[str, Any]:
        """A deployment record read in `transaction` (NotFound when absent)."""
        check_id(deployment_id, "package deployment")
        snap = self.deployment_ref(org, deployment_id).get(transaction=transaction)
        if not snap.exists:
            raise NotFound(f"package deployment {deployment_id} not found")
        return self._loaded(snap)

    def write_deployment(self, writer, org: str, before: dict, after: dict) -> None:
        """Replace a deployment record (`before` as read) with `writer`."""
        writer.set(self.deployment_ref(org, after["id"]), _stored_deployment(after))

    def by_approval(
        self, org: str, approval_status: str, limit: int, after: tuple[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Deployments in `approval_status`, newest first (created_at, then id), after the
        (created_at, id) cursor `after`."""
        collection = self.org(org).collection("package_deployments")
        query = (
            collection.where(filter=FieldFilter("approval_status", "==", approval_status))
            .order_by("created_at", direction=DESC)
            .order_by("__name__", direction=DESC)
        )
        if after is not None:
            query = query.start_after(
                {"created_at": after[0], "__name__": collection.document(after[1])}
            )
        return [self._loaded(snap) for snap in query.limit(limit).stream()]

    def update_deployment(self, org: str, deployment_id: str, changes: dict[str, Any]) -> None:
        self.deployment_ref(org, deployment_id).update(changes)

    def get_deployment(self, org: str, deployment_id: str) -> dict[str, Any]:
        check_id(deployment_id, "package deployment")
        snap = self.deployment_ref(org, deployment_id).get()
        if not snap.exists:
            raise NotFound(f"package deployment {deployment_id} not found")
        return self._loaded(snap)

    def find_deployment(self, org: str, deployment_id: str) -> dict[str, Any] | None:
        snap = self.deployment_ref(org, deployment_id).get()
        return self._loaded(snap) if snap.exists else None

    def list_deployments(self, org: str, filters: dict[str, Any], limit: int, offset: int):
        query = self.org(org).collection("package_deployments")
        for name in ("environment", "is_active", "package_id"):
            if filters.get(name) is not None:
                query = query.where(filter=FieldFilter(name, "==", filters[name]))
        query = query.order_by("created_at", direction=DESC).offset(offset).limit(limit)
        return [self._loaded(snap) for snap in query.stream()]

    def stale_deployments(self, before: str, limit: int = 100) -> list[tuple[str, dict]]:
        """Deployments of any organisation still running/undoing with no progress since `before`."""
        query = (
            self.db.collection_group("package_deployments")
            .where(filter=FieldFilter("status", "in", [s.value for s in UNFINISHED]))
            .where(filter=FieldFilter("progress_at", "<", before))
            .order_by("progress_at")
        )
        found = tenant_documents(query, limit)
        return [(org, self._loaded(snap)) for org, snap in found]

    def _loaded(self, snap) -> dict[str, Any]:
        record = snap.to_dict()
        text = record.pop("pk_mapping_json", None)
        pieces = record.pop("pk_mapping_pieces", None)
        if pieces:
            refs = [
                snap.reference.collection("pk_mappings").document(f"{n:06d}")
                for n in range(1, pieces + 1)
            ]
            found = {s.id: bytes(s.get("data")) for s in self.db.get_all(refs) if s.exists}
            text = b"".join(found[r.id] for r in refs if r.id in found).decode()
        record["pk_mapping_result"] = json.loads(text) if text else {}
        record.setdefault("errors", [])
        return record

    # -- undo journal -------------------------------------------------------------

    def journal(self, org: str, deployment_id: str):
        return self.deployment_ref(org, deployment_id).collection("before_images")

    def journal_writes(
        self, org: str, deployment_id: str, seq: int, entries: list[list[Any]]
    ) -> list[tuple[Any, dict[str, Any]]]:
        """The journal documents holding `entries` ([collection, doc id, before or None])."""
        text = json.dumps(entries, separators=(",", ":"), ensure_ascii=False)
        data = text.encode()
        journal = self.journal(org, deployment_id)
        docs = []
        for part, start in enumerate(range(0, max(len(data), 1), JOURNAL_PIECE_BYTES)):
            docs.append(
                (
                    journal.document(f"{seq:08d}-{part:03d}"),
                    {"seq": seq, "part": part, "data": data[start : start + PIECE]},
                )
            )
        return docs

    def iter_journal_reversed(self, org: str, deployment_id: str) -> Iterator[list[list[Any]]]:
        """The journal's groups of entries, newest group first (parts joined)."""
        journal = self.journal(org, deployment_id)
        snaps = list(journal.stream())
        groups: dict[int, list] = {}
        for snap in snaps:
            doc = snap.to_dict()
            groups.setdefault(doc["seq"], []).append((doc["part"], bytes(doc["data"])))
        for seq in sorted(groups, reverse=True):
            data = b"".join(piece for _, piece in sorted(groups[seq]))
            yield json.loads(data.decode())

    def clear_journal(self, org: str, deployment_id: str) -> None:
        journal = self.journal(org, deployment_id)
        while True:
            snaps = list(journal.select([]).limit(400).stream())
            if not snaps:
                return
            batch = self.db.batch()
            for snap in snaps:
                batch.delete(snap.reference)
            batch.commit()


def _stored_deployment(record: dict[str, Any]) -> dict[str, Any]:
    stored = dict(record)
    mapping = stored.pop("pk_mapping_result", None)
    if mapping is not None:
        stored["pk_mapping_json"] = json.dumps(mapping, separators=(",", ":"))
    return stored
