"""The floor: a bare functions-framework function making the Firestore round trips of each
deployment route, with nothing else (no auth, no validation, no rules).

- `POST /create/<org>`: one commit, the record and its outbox event;
- `GET /get/<org>/<id>`: one document get;
- `GET /list/<org>?name&status&limit`: the list's query (equality filters, newest first);
- `PATCH /patch/<org>/<id>?key&created_at`: one read of the record with its taxonomy's
  queue documents, then one commit (the record's update preconditioned on its update time,
  its queue entry removed, its event).
"""

import hashlib
import json
import uuid
from datetime import UTC, datetime

import functions_framework
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

_db = None


def db() -> firestore.Client:
    global _db
    if _db is None:
        _db = firestore.Client()
    return _db


def org_ref(org: str):
    return db().collection("organisations").document(org)


def queue_day(org: str, key: str, created_at: str):
    queue = org_ref(org).collection("queues").document(key)
    return queue, queue.collection("days").document(created_at[:10])


def event(org: str, record: dict, type_: str) -> tuple:
    data = {"id": str(uuid.uuid4()), "type": type_, "subject": record["id"], "data": record}
    ref = org_ref(org).collection("outbox").document(data["id"])
    text = json.dumps([data], separators=(",", ":"))
    return ref, {"published": False, "created_at": record["updated_at"], "events_json": text}


def create(request, org: str):
    body = request.get_json()
    now = datetime.now(UTC).isoformat()
    key = hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest()[:32]
    record = {**body, "id": str(uuid.uuid4()), "created_at": now, "updated_at": now}
    record |= {"status": "scheduled", "organisation": org, "taxonomy_key": key}
    batch = db().batch()
    batch.create(org_ref(org).collection("deployments").document(record["id"]), record)
    batch.set(*event(org, record, "deployment.created"))
    batch.commit()
    return record, 201


def get(org: str, deployment_id: str):
    snapshot = org_ref(org).collection("deployments").document(deployment_id).get()
    return (snapshot.to_dict(), 200) if snapshot.exists else ({"error": "not found"}, 404)


def list_(request, org: str):
    query = org_ref(org).collection("deployments")
    for name in ("name", "status"):
        if name in request.args:
            query = query.where(filter=FieldFilter(name, "==", request.args[name]))
    query = query.order_by("created_at", direction="DESCENDING")
    query = query.order_by("__name__", direction="DESCENDING")
    limit = int(request.args.get("limit", 100))
    records = [s.to_dict() for s in query.limit(limit + 1).stream()][:limit]
    return json.dumps(records), 200, {"Content-Type": "application/json"}


def patch(request, org: str, deployment_id: str):
    body = request.get_json()
    ref = org_ref(org).collection("deployments").document(deployment_id)
    # The client passes what deployq remembers of a record it has seen (taxonomy, created_at).
    queue, day = queue_day(org, request.args["key"], request.args["created_at"])
    found = {s.reference.path: s for s in db().get_all([ref, queue, day])}
    snapshot = found[ref.path]
    record = snapshot.to_dict()
    changes = {"status": body["status"], "updated_at": datetime.now(UTC).isoformat()}
    batch = db().batch()
    batch.update(ref, changes, db().write_option(last_update_time=snapshot.update_time))
    entry = f"{record['created_at']}|{record['id']}"
    batch.set(day, {"entries": firestore.ArrayRemove([entry])}, merge=True)
    batch.set(*event(org, {**record, **changes}, "deployment.updated"))
    batch.commit()
    return {**record, **changes}, 200


@functions_framework.http
def floor(request):
    parts = request.path.strip("/").split("/")
    if parts[0] == "create":
        return create(request, parts[1])
    if parts[0] == "get":
        return get(parts[1], parts[2])
    if parts[0] == "list":
        return list_(request, parts[1])
    if parts[0] == "patch":
        return patch(request, parts[1], parts[2])
    return {"status": "healthy"}, 200
