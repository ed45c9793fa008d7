"""`make dev`: the Firestore and Pub/Sub emulators, the Google API fake and every function.

Fixed loopback ports; AUTH_ENABLED=false unless set, so
`curl -H 'X-Organisation: acme' http://127.0.0.1:8081/v1/deployments` works at once.
Ctrl-C stops everything.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.emulators import Emulator, Process, start_function  # noqa: E402

PROJECT = os.environ.get("GOOGLE_CLOUD_PROJECT", "deployq-local")
FIRESTORE_PORT, PUBSUB_PORT, FAKES_PORT = 8200, 8201, 8202
FUNCTIONS = {"deployments": 8081, "packages": 8082, "worker": 8083, "canary": 8084, "events": 8085}
FUNCTIONS["console"] = 8086  # the web console (docs/console.md)
DEMO = os.environ.get("DEMO", "1") != "0"  # seed organisation acme (scripts/demo.py)
QUEUE = f"projects/{PROJECT}/locations/local/queues/deployq"
TOPIC = "deployq-events"
REGION = "europe-west1"
# The Cloud Run service the fake serves at start: stable revision 1, a canary revision 2.
SERVICES = [
    {
        "project": PROJECT,
        "region": REGION,
        "service": "web",
        "revisions": ["web-00001-abc", "web-00002-def"],
        "traffic": [{"revision": "web-00001-abc", "percent": 100}],
    }
]
# Organisation acme, registered at start: what a platform admin would grant a new tenant.
ACME = {
    "name": "acme",
    "environments": {env: {"project": PROJECT, "database": env} for env in ("dev", "staging")},
    "cloud_run_services": [f"projects/{PROJECT}/locations/{REGION}/services/*"],
    "members": [],
    "github": {"owner_id": None, "rules": []},
}


def function_env() -> dict[str, str]:
    worker = f"http://127.0.0.1:{FUNCTIONS['worker']}"
    env = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{FIRESTORE_PORT}",
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{PUBSUB_PORT}",
        "AUTH_ENABLED": os.environ.get("AUTH_ENABLED", "false"),
        "TASKS_QUEUE": QUEUE,
        "TASKS_EMULATOR_HOST": f"127.0.0.1:{FAKES_PORT}",
        "WORKER_URL": f"{worker}/tasks/run",
        "TASKS_SERVICE_ACCOUNT": "tasks@deployq-local.iam.gserviceaccount.com",
        "EVENTS_TOPIC": TOPIC,
        "CLOUD_RUN_API_ENDPOINT": f"127.0.0.1:{FAKES_PORT}",
        "MONITORING_API_ENDPOINT": f"127.0.0.1:{FAKES_PORT}",
        "PACKAGES_URL": f"http://127.0.0.1:{FUNCTIONS['packages']}",
        "CANARY_URL": f"http://127.0.0.1:{FUNCTIONS['canary']}",
        **console_env(),
    }
    return {**env, **{k: v for k, v in os.environ.items() if k in env and k != "AUTH_ENABLED"}}


def console_env() -> dict[str, str]:
    """The console's API addresses, and CORS on the APIs for the console's origin."""
    urls = {name: f"http://127.0.0.1:{port}" for name, port in FUNCTIONS.items()}
    origins = f"{urls['console']},http://localhost:{FUNCTIONS['console']}"
    return {"CONSOLE_ORIGIN": origins, "DEPLOYMENTS_URL": urls["deployments"]}


def register_acme(env: dict[str, str]) -> None:
    """Write organisation acme's record (environments dev and staging, the fake's services),
    unless it exists already, so a first package and canary work at once."""
    os.environ["FIRESTORE_EMULATOR_HOST"] = env["FIRESTORE_EMULATOR_HOST"]
    from google.cloud import firestore

    from shared import clock

    ref = firestore.Client(project=PROJECT).collection("organisations").document("acme")
    if not ref.get().exists:
        now = clock.now_text()
        ref.set({**ACME, "created_at": now, "updated_at": now})


def create_push_subscription(env: dict[str, str]) -> None:
    """Topic + push subscription delivering events to the events function, as Eventarc does."""
    os.environ["PUBSUB_EMULATOR_HOST"] = env["PUBSUB_EMULATOR_HOST"]
    from google.api_core import exceptions
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, TOPIC)
    subscription = subscriber.subscription_path(PROJECT, "deployq-events-push")
    try:
        publisher.create_topic(name=topic)
    except exceptions.AlreadyExists:
        pass
    try:
        subscriber.create_subscription(
            name=subscription,
            topic=topic,
            push_config={"push_endpoint": f"http://127.0.0.1:{FUNCTIONS['events']}/"},
        )
    except exceptions.AlreadyExists:
        pass


# What Cloud Scheduler does in production (DESIGN.md: canary sweep every minute, job and
# event sweeps every 5 minutes), faster here so local canaries move without waiting.
SWEEPS = (
    (5, f"http://127.0.0.1:{FUNCTIONS['canary']}/v1/canaries:sweep"),
    (30, f"http://127.0.0.1:{FUNCTIONS['worker']}/tasks/sweep"),
    (30, f"http://127.0.0.1:{FUNCTIONS['deployments']}/v1/events:sweep"),
)


def scheduler(stop: threading.Event) -> None:
    """Call each sweep on its period (internal endpoints accept anyone with auth off)."""
    import requests

    due = {url: time.monotonic() + period for period, url in SWEEPS}
    while not stop.wait(1):
        for period, url in SWEEPS:
            if time.monotonic() >= due[url]:
                due[url] = time.monotonic() + period
                try:
                    requests.post(url, timeout=30)
                except requests.RequestException:
                    pass


def stop_with_parent() -> None:
    """On Linux, SIGTERM reaches this process when its parent (make) ends, however it ends,
    so the stack never outlives `make dev` (make does not pass SIGTERM on)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_fakes(log_dir: Path) -> Process | None:
    """The Google API fake (with the demo's services unless DEMO=0); None without tests/fakes."""
    if not (ROOT / "tests" / "fakes" / "__main__.py").exists():
        return None
    seed = log_dir.parent / "fake-services.json"
    seed.write_text(json.dumps({"services": SERVICES}))
    fakes = Process(
        [sys.executable, "scripts/demo.py", "fakes", "--port", str(FAKES_PORT)]
        + ["--seed", str(seed)]
        if DEMO
        else [
            sys.executable,
            "-m",
            "tests.fakes",
            "--port",
            str(FAKES_PORT),
            "--seed",
            str(seed),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        log=log_dir / "fakes.log",
        cwd=str(ROOT),
    )
    print(f"google api fake      127.0.0.1:{FAKES_PORT} (Cloud Tasks, Cloud Run, Monitoring)")
    return fakes


def main() -> int:
    parent = os.getppid()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    stop_with_parent()
    if os.getppid() != parent:  # the parent ended before the line above
        return 0
    log_dir = ROOT / ".dev" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    running: list = []
    seeding = None
    env = function_env()
    stop = threading.Event()
    try:
        firestore = Emulator("firestore", log_dir, port=FIRESTORE_PORT)
        running.append(firestore)
        print(f"firestore emulator   {firestore.host}")
        pubsub = Emulator("pubsub", log_dir, port=PUBSUB_PORT)
        running.append(pubsub)
        print(f"pubsub emulator      {pubsub.host}")
        fakes = start_fakes(log_dir)
        if fakes is not None:
            running.append(fakes)
        for name, port in FUNCTIONS.items():
            if not (ROOT / "functions" / name / "main.py").exists():
                continue
            running.append(start_function(name, port, env, log_dir))
            print(f"{name:<20} http://127.0.0.1:{port}")
        register_acme(env)
        print(
            "organisation acme    environments dev, staging; Cloud Run services "
            f"projects/{PROJECT}/locations/{REGION}/services/*"
        )
        if (ROOT / "functions" / "events" / "main.py").exists():
            create_push_subscription(env)
        if env["AUTH_ENABLED"] == "false":
            threading.Thread(target=scheduler, args=(stop,), daemon=True).start()
            print("scheduler            sweeps canaries every 5 s, jobs and events every 30 s")
        print(f"\nauth: AUTH_ENABLED={env['AUTH_ENABLED']} (send X-Organisation: <org>)")
        print(f"logs: {log_dir}")
        print("try:  curl -H 'X-Organisation: acme' http://127.0.0.1:8081/v1/deployments")
        print(f"\nconsole: http://127.0.0.1:{FUNCTIONS['console']}/  (organisation acme)")
        if DEMO and env["AUTH_ENABLED"] == "false":
            demo = [sys.executable, "scripts/demo.py", "seed"]
            seeding = Process(demo, env=os.environ.copy(), log=log_dir / "demo.log")
            print(f"demo: seeding acme in the background (DEMO=0 to skip), log {log_dir}/demo.log")
        print("Ctrl-C stops everything.")
        while all(
            p.alive() for p in (r.process if isinstance(r, Emulator) else r for r in running)
        ):
            time.sleep(0.5)
        print("a process exited; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut cleanup short
        stop.set()
        for item in reversed(running + ([seeding] if seeding else [])):
            item.stop()


if __name__ == "__main__":
    raise SystemExit(main())
