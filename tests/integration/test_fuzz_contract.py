"""Property-based runs from each HTTP function's own /openapi.json (schemathesis): every route,
with generated valid and invalid inputs, answers no 5xx and nothing its document does not
describe (status codes, content types, response schemas).

Bounded: a fixed number of examples per route, derandomized (the same inputs every run),
no shrinking; about a minute for the four functions on two cores.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from itertools import product

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_EMAIL, AUDIENCE, INTERNAL_EMAIL, make_client
from tests.fakes.server import FakeGoogleApis
from tests.support import packages as support

FUNCTIONS = ("deployments", "packages", "worker", "canary")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
STATUSES: Counter = Counter()
EXAMPLES = int(os.environ.get("DEPLOYQ_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def fakes(identity):
    with FakeGoogleApis(signer=identity.google_key.sign, **support.FAST_RETRIES) as fake:
        fake.tasks.pause()  # jobs are queued, never delivered: the worker is fuzzed on its own
        yield fake


@pytest.fixture
def apps(base_env, project, fakes):
    env = {
        **support.stack_env(project, fakes.address, 9, AUDIENCE),
        "CLOUD_RUN_API_ENDPOINT": fakes.address,
        "MONITORING_API_ENDPOINT": fakes.address,
    }
    os.environ.update(env)
    return {name: make_client(name).application for name in FUNCTIONS}


def caller_headers(operation, identity) -> dict[str, str]:
    definition = operation.definition.raw
    if "security" not in definition:
        return {}
    tenant = any(p.get("in") == "header" for p in definition.get("parameters", []))
    if tenant:
        token = identity.google_token(ADMIN_EMAIL, AUDIENCE)
        return {"Authorization": f"Bearer {token}", "X-Organisation": "acme"}
    token = identity.google_token(INTERNAL_EMAIL, AUDIENCE)
    return {"Authorization": f"Bearer {token}"}


def run_operation(operation, mode: GenerationMode, headers: dict, examples: int) -> int:
    """Send `examples` generated cases of one operation; raises on the first broken check."""
    sent = 0

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def run(case):
        nonlocal sent
        sent += 1
        response = case.call(headers=headers)
        STATUSES[(operation.method.upper(), operation.path, mode.value, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # nothing invalid to send (a route without parameters or body)
        pass
    return sent


def fuzz(app, identity, examples: int) -> tuple[int, list[str]]:
    """(requests sent, failures) of a run over every operation of one app."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    sent, failures = 0, []
    for result, mode in product(schema.get_all_operations(), MODES):
        operation = result.ok()
        try:
            sent += run_operation(operation, mode, caller_headers(operation, identity), examples)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together
            where = f"{operation.method.upper()} {operation.path} ({mode.value})"
            failures.append(f"{where}: {exc}"[:1500])
    return sent, failures


def test_every_route_of_every_function_keeps_its_contract(apps, identity, record_property):
    started, report, all_failures = time.monotonic(), [], []
    for name, app in apps.items():
        before = time.monotonic()
        sent, failures = fuzz(app, identity, EXAMPLES)
        report.append(f"{name}: {sent} requests in {time.monotonic() - before:.1f} s")
        all_failures += [f"{name} {failure}" for failure in failures]
    elapsed = time.monotonic() - started
    print("; ".join(report) + f"; total {elapsed:.1f} s")
    if os.environ.get("DEPLOYQ_FUZZ_VERBOSE"):
        for key, count in sorted(STATUSES.items()):
            print(*key, count)
    record_property("fuzz", report)
    assert not all_failures, "\n\n".join(all_failures)


def test_every_route_documents_its_request_and_answers(apps):
    from tests.support.openapi import unresolved_refs

    for name, app in apps.items():
        document = app.test_client().get("/openapi.json").json
        assert unresolved_refs(document) == [], name
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                where = f"{name} {method.upper()} {path}"
                success = {c: r for c, r in operation["responses"].items() if c.startswith("2")}
                assert success, where
                for code, answer in success.items():
                    assert code == "204" or answer.get("content"), f"{where} {code} has no schema"
                if method in ("post", "put", "patch") and "requestBody" in operation:
                    assert operation["requestBody"]["content"], where
                for code, answer in operation["responses"].items():
                    if code.startswith("4"):
                        schema = answer["content"]["application/json"]["schema"]
                        assert schema == {"$ref": "#/components/schemas/Error"}, where
