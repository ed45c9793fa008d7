"""`owned_data`: a snapshot's data as `to_dict()` gives it, without the second copy."""

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot

from shared.store.firestore import owned_data


def snapshot(data, exists=True) -> DocumentSnapshot:
    db = firestore.Client(project="snapshots-test", credentials=AnonymousCredentials())
    ref = db.document("organisations", "acme", "deployments", "d")
    return DocumentSnapshot(ref, data, exists, read_time=None, create_time=None, update_time=None)


def test_the_data_is_the_documents_and_not_what_the_snapshot_was_built_from():
    read = {"id": "d", "approvals": [{"actor": "octocat"}], "cell": None}
    shot = snapshot(read)
    data = owned_data(shot)
    assert data == shot.to_dict() == read
    read["approvals"].append({"actor": "someone"})  # the decoded response, changed after
    assert data["approvals"] == [{"actor": "octocat"}]


def test_a_missing_document_has_no_data():
    assert owned_data(snapshot(None, exists=False)) is None
