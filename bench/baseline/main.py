"""The baseline: a bare functions-framework function doing one Firestore document get."""

import functions_framework
from google.cloud import firestore

_db = None


@functions_framework.http
def baseline(request):
    global _db
    if _db is None:
        _db = firestore.Client()
    snapshot = _db.collection("bench").document("baseline").get()
    return {"exists": snapshot.exists}
