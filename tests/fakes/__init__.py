"""gRPC fake of Cloud Tasks, Cloud Run Admin v2 and Cloud Monitoring v3 for tests and `make dev`.

    with FakeGoogleApis(signer=rs256_signer(pem, "kid")) as fake:
        channel = grpc.insecure_channel(fake.address)

See server.py, tasks.py, run.py and monitoring.py (+ timeseries.py) for what each supports.
"""

from tests.fakes.common import ApiError
from tests.fakes.monitoring import FakeMonitoring
from tests.fakes.run import FakeRun
from tests.fakes.server import FakeGoogleApis
from tests.fakes.signing import rs256_signer
from tests.fakes.tasks import Delivery, FakeTasks, oidc_claims
from tests.fakes.timeseries import Distribution

__all__ = [
    "ApiError",
    "Delivery",
    "Distribution",
    "FakeGoogleApis",
    "FakeMonitoring",
    "FakeRun",
    "FakeTasks",
    "oidc_claims",
    "rs256_signer",
]
