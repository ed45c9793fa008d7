"""Test support for data packages: named environment databases, seeding, snapshots, a worker
served over HTTP in-process, the Cloud Tasks fake wiring."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from tests.support.emulators import free_port

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT_NAMES = ("dev", "staging", "production")
TASKS_ACCOUNT = "scheduler@deployq-test.iam.gserviceaccount.com"


def grant_environments(project: str, org: str = "acme") -> None:
    """Register `org` with the environments dev, staging and production (their own databases)."""
    from tests.support import organisations

    organisations.grant(project, org, environments=organisations.environments(project))


def database(project: str, name: str):
    from shared.store import firestore as fs

    return fs.client(project, name)


def seed(db, collection: str, docs: dict[str, dict[str, Any]]) -> None:
    """Write documents {id: fields} in batches of 500."""
    items = list(docs.items())
    for start in range(0, len(items), 500):
        batch = db.batch()
        for doc_id, data in items[start : start + 500]:
            batch.set(db.collection(collection).document(str(doc_id)), data)
        batch.commit()


def snapshot(db, *collections: str) -> dict[str, dict[str, dict[str, Any]]]:
    """{collection: {id: fields}} of whole collections, to compare before and after."""
    return {c: {s.id: s.to_dict() for s in db.collection(c).stream()} for c in collections}


class AppServer:
    """A functions-framework app (configured from os.environ now) served on a loopback port."""

    def __init__(self, name: str, port: int | None = None):
        import functions_framework
        from werkzeug.serving import make_server

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = functions_framework.create_app(name, str(ROOT / "functions" / name / "main.py"))
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Cloud Tasks retries of the fake, fast enough for tests.
FAST_RETRIES = {"min_backoff": 0.05, "max_backoff": 0.5, "max_attempts": 5}


def stack_env(
    project: str, tasks_address: str, worker_port: int, audience: str, deadline: int = 1800
) -> dict[str, str]:
    """Configuration of packages + worker: the Tasks fake, the worker URL; and organisation
    acme's record granting dev, staging and production (written to the emulator now)."""
    worker = f"http://127.0.0.1:{worker_port}"
    grant_environments(project)
    return {
        "TASKS_QUEUE": f"projects/{project}/locations/local/queues/deployq",
        "TASKS_EMULATOR_HOST": tasks_address,
        "WORKER_URL": f"{worker}/tasks/run",
        "TASKS_SERVICE_ACCOUNT": TASKS_ACCOUNT,
        "GOOGLE_ID_TOKEN_AUDIENCES": f"{audience},{worker}",
        "JOB_DEADLINE_SECONDS": str(deadline),
    }


def apply(env: dict[str, str]) -> None:
    os.environ.update(env)


# -- sample data ---------------------------------------------------------------------------


def shop(customers: int = 3, orders_per_customer: int = 2, items_per_order: int = 2):
    """Three related tables: customers <- orders <- order_items (integer keys)."""
    data = {"customers": {}, "orders": {}, "order_items": {}}
    order_id = item_id = 0
    for c in range(1, customers + 1):
        data["customers"][str(c)] = {
            "id": c,
            "name": f"customer {c}",
            "tier": "gold" if c % 2 else "silver",
            "password_hash": f"secret{c}",
        }
        for _ in range(orders_per_customer):
            order_id += 1
            data["orders"][str(order_id)] = {
                "id": order_id,
                "customer_id": c,
                "total": order_id * 10,
            }
            for _ in range(items_per_order):
                item_id += 1
                data["order_items"][str(item_id)] = {
                    "id": item_id,
                    "order_id": order_id,
                    "sku": f"sku-{item_id}",
                }
    return data


SHOP_TABLES = [
    {"name": "customers", "primary_key": "id"},
    {
        "name": "orders",
        "primary_key": "id",
        "foreign_keys": [{"column": "customer_id", "references": "customers.id"}],
    },
    {
        "name": "order_items",
        "primary_key": "id",
        "foreign_keys": [{"column": "order_id", "references": "orders.id"}],
    },
]
