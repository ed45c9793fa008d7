"""What the Terraform in terraform/ will ask Google for, checked without Google.

Two layers:
- python-hcl2 parses every .tf file and the tests assert on the resources' arguments
  (targets, audiences, roles, members, for_each sources);
- where `terraform` is installed, the module's locals are evaluated for real by
  Terraform itself (no provider needed: resource attributes are replaced by stand-ins),
  for a sample `organisations` map, and the tests assert on the rendered values.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from shared.jobs.queue import worker_audience

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
PROJECT = "acme-control-1"
PROJECT_NUMBER = "123456789012"
REGION = "europe-west1"
SA = f"{PROJECT}.iam.gserviceaccount.com"


def parse(name: str) -> dict:
    with open(TERRAFORM / name) as fh:
        return hcl2.load(fh)


def resources(kind: str) -> dict[str, dict]:
    """Every resource of type `kind` in the module, by name."""
    found: dict[str, dict] = {}
    for path in sorted(TERRAFORM.glob("*.tf")):
        for block in parse(path.name).get("resource", []):
            for name, body in block.get(kind, {}).items():
                found[name] = body
    return found


def locals_of(name: str) -> dict:
    merged: dict = {}
    for block in parse(name).get("locals", []):
        merged.update(block)
    return merged


def compact(expr: str) -> str:
    return re.sub(r"\s+", "", expr)


# --- structure (python-hcl2) ----------------------------------------------------------


def test_tasks_and_sweeps_target_the_run_app_urls_with_those_as_audience():
    main = locals_of("main.tf")
    assert "run.app" in main["run_urls"] and "data.google_project.this.number" in main["run_urls"]
    assert main["common_environment"]["WORKER_URL"] == '${local.run_urls["worker"]}/tasks/run'
    assert main["common_environment"]["CANARY_URL"] == '${local.run_urls["canary"]}'
    (job,) = resources("google_cloud_scheduler_job").values()
    target = job["http_target"][0]
    assert target["uri"] == "${local.run_urls[each.value.function]}${each.value.path}"
    assert target["oidc_token"][0]["audience"] == "${local.run_urls[each.value.function]}"


def test_every_function_accepts_its_own_audience_list():
    function = resources("google_cloudfunctions2_function")["function"]  # the console: console.tf
    env = function["service_config"][0]["environment_variables"]
    assert "GOOGLE_ID_TOKEN_AUDIENCES" in env
    assert compact(env).count('join(",",local.id_token_audiences[each.key])') == 1
    assert "ENVIRONMENTS" not in locals_of("main.tf")["common_environment"]


def test_no_project_wide_run_developer_on_the_control_plane():
    for name, body in resources("google_project_iam_member").items():
        if body["role"] == "roles/run.developer":
            # Only the projects of granted `*` patterns, from the organisations map.
            assert body["for_each"] == "${local.runner_project_grants}", name
            assert body["project"] == "${each.value.project}", name


def test_canary_and_worker_get_act_as_on_every_granted_runtime_account():
    actas = resources("google_service_account_iam_member")["canary_actas"]
    assert actas["for_each"] == "${local.runner_actas_accounts}"
    assert actas["role"] == "roles/iam.serviceAccountUser"
    assert actas["member"] == "${local.function_members[each.value.runner]}"
    developer = resources("google_cloud_run_v2_service_iam_member")["canary_developer"]
    assert developer["for_each"] == "${local.runner_service_grants}"
    assert developer["member"] == "${local.function_members[each.value.runner]}"
    # Canary checks are worker jobs: the worker acts on the same services as the canary.
    assert 'canary_runners = ["canary", "worker"]' in (TERRAFORM / "iam.tf").read_text()


def test_pubsub_agent_may_mint_tokens_for_the_push_identity():
    grant = resources("google_service_account_iam_member")["pubsub_token_creator"]
    assert grant["role"] == "roles/iam.serviceAccountTokenCreator"
    assert grant["member"] == "serviceAccount:${local.pubsub_agent}"
    assert grant["service_account_id"] == "${google_service_account.events_trigger.name}"
    assert "@gcp-sa-pubsub.iam.gserviceaccount.com" in locals_of("iam.tf")["pubsub_agent"]


def test_eventarc_agent_exists_is_granted_and_functions_wait_for_it():
    identity = resources("google_project_service_identity")["eventarc"]
    assert identity["service"] == "eventarc.googleapis.com"
    assert identity["provider"] == "${google-beta}"
    grant = resources("google_project_iam_member")["eventarc_agent"]
    assert grant["role"] == "roles/eventarc.serviceAgent"
    assert "@gcp-sa-eventarc.iam.gserviceaccount.com" in locals_of("iam.tf")["eventarc_agent"]
    sleep = resources("time_sleep")["iam_propagation"]
    assert "google_project_iam_member.eventarc_agent.id" in json.dumps(sleep["triggers"])
    function = resources("google_cloudfunctions2_function")["function"]  # the console: console.tf
    assert "${time_sleep.iam_propagation}" in function["depends_on"]


def test_builds_may_read_the_gen2_source_bucket_only():
    grant = resources("google_project_iam_member")["build_gcf_sources_reader"]
    assert grant["role"] == "roles/storage.objectViewer"
    assert "local.gcf_sources_bucket" in grant["condition"][0]["expression"]
    assert "gcf-v2-sources-" in locals_of("iam.tf")["gcf_sources_bucket"]


def test_organisation_iam_comes_from_the_organisations_map():
    iam = locals_of("iam.tf")
    for name in ("organisation_databases", "granted_services", "canary_actas_accounts"):
        assert "var.organisations" in iam[name], name
    assert "local.organisation_databases" in iam["firestore_access"]
    firestore = resources("google_project_iam_member")["firestore_user"]
    assert firestore["role"] == "roles/datastore.user"
    assert "startsWith" in firestore["condition"][0]["expression"]
    document = resources("google_firestore_document")["organisation"]
    assert document["for_each"] == "${var.organisations}"
    assert document["collection"] == "organisations"


# --- rendered values (terraform evaluates the real locals) ------------------------------

# Resource attributes the locals read, and stand-ins Terraform can evaluate offline.
STAND_INS = {
    "data.google_project.this.number": f'"{PROJECT_NUMBER}"',
    "google_service_account.scheduler.email": f'"deployq-scheduler@{SA}"',
    "google_service_account.tasks_invoker.email": f'"deployq-tasks-invoker@{SA}"',
    "google_service_account.events_trigger.email": f'"deployq-events-trigger@{SA}"',
    "google_firestore_database.deployq.name": "var.firestore_database",
    "google_cloud_tasks_queue.jobs.id": f'"projects/{PROJECT}/locations/{REGION}/queues/jobs"',
    "google_pubsub_topic.events.id": f'"projects/{PROJECT}/topics/deployq-events"',
    "google_service_account.function :": (
        '{ for n in local.function_names : n => { email = "deployq-${n}@'
        + PROJECT
        + '.iam.gserviceaccount.com" } } :'
    ),
    "google_cloud_tasks_queue.jobs.name": '"deployq-jobs"',
    "google_monitoring_notification_channel.email :": "{} :",
    "time_static.organisation_created[org].rfc3339": '"2026-12-07T03:00:00Z"',
    "time_static.organisation_updated[org].rfc3339": '"2026-12-07T04:00:00Z"',
}

SAMPLE_ORGANISATIONS = {
    "acme": {
        "environments": {
            "staging": {"project": "acme-staging-123", "database": "staging"},
            "production": {"project": "acme-prod-123"},
        },
        "cloud_run_services": [
            "projects/acme-prod-123/locations/europe-west1/services/api",
            "projects/acme-tools-123/locations/europe-west1/services/batch-*",
        ],
        "cloud_run_service_accounts": {
            "projects/acme-prod-123/locations/europe-west1/services/api": [
                "api@acme-prod-123.iam.gserviceaccount.com"
            ],
            "projects/acme-tools-123/locations/europe-west1/services/batch-*": [
                "batch@acme-tools-123.iam.gserviceaccount.com"
            ],
        },
        "members": [
            {"email": "lead@acme.example", "github_login": "acme-lead", "role": "admin"},
            {"github_login": "dev", "role": "deployer"},
        ],
        "github_rules": [
            {"repository": "acme/*", "ref": "refs/heads/main", "role": "deployer"},
            {"repository": "acme/**", "ref": "*", "environment": "production", "role": "approver"},
        ],
        "github_owner_id": "4242",
    },
    "globex": {},
}

OUTPUTS = """
output "values" {
  value = jsonencode({
    run_urls            = local.run_urls
    function_urls       = local.function_urls
    environment         = local.common_environment
    audiences           = local.id_token_audiences
    firestore_access    = local.firestore_access
    service_grants      = local.canary_service_grants
    project_grants      = local.canary_project_grants
    actas               = local.canary_actas_accounts
    monitoring_projects = local.monitoring_projects
    records             = { for org, v in local.organisation_fields : org => jsonencode(v) }
    dashboard           = jsonencode(local.dashboard)
    log_metric_types    = local.log_metric_types
    metric_log_filter   = local.metric_log_filter
  })
}
"""


def locals_source(name: str) -> str:
    """The `locals { ... }` blocks of a file, as written."""
    text = (TERRAFORM / name).read_text()
    return "\n".join(re.findall(r"^locals \{\n.*?^\}\n", text, flags=re.S | re.M))


def terraform(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command = ["terraform", *args, "-input=false", "-no-color", "-var-file=test.tfvars.json"]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def render(tmp_path: Path, organisations: dict) -> dict:
    files = ("main.tf", "iam.tf", "organisations.tf", "monitoring.tf")
    source = "\n".join(locals_source(f) for f in files)
    for reference, stand_in in STAND_INS.items():
        assert reference in source, f"{reference} is no longer read: update STAND_INS"
        source = source.replace(reference, stand_in)
    shutil.copy(TERRAFORM / "variables.tf", tmp_path / "variables.tf")
    (tmp_path / "locals.tf").write_text(source + OUTPUTS)
    (tmp_path / "test.tfvars.json").write_text(
        json.dumps({"project_id": PROJECT, "region": REGION, "organisations": organisations})
    )
    run = terraform(tmp_path, "apply", "-auto-approve")
    assert run.returncode == 0, run.stdout + run.stderr
    out = subprocess.run(
        ["terraform", "output", "-raw", "values"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def plan_error(tmp_path: Path, organisations: dict) -> str:
    shutil.copy(TERRAFORM / "variables.tf", tmp_path / "variables.tf")
    (tmp_path / "test.tfvars.json").write_text(
        json.dumps({"project_id": PROJECT, "region": REGION, "organisations": organisations})
    )
    run = terraform(tmp_path, "plan")
    assert run.returncode != 0
    return " ".join(run.stderr.split())


needs_terraform = pytest.mark.skipif(
    shutil.which("terraform") is None, reason="terraform is not installed"
)


@pytest.fixture(scope="module")
def values(tmp_path_factory) -> dict:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    return render(tmp_path_factory.mktemp("tf"), SAMPLE_ORGANISATIONS)


def decode(value: dict):
    """A Firestore REST Value back to plain JSON."""
    if "stringValue" in value:
        return value["stringValue"]
    if "nullValue" in value:
        return None
    if "arrayValue" in value:
        return [decode(v) for v in value["arrayValue"].get("values", [])]
    if "mapValue" in value:
        return {k: decode(v) for k, v in value["mapValue"].get("fields", {}).items()}
    raise AssertionError(f"unexpected value {value}")


@needs_terraform
def test_worker_task_audience_is_the_worker_url_and_the_only_one_it_accepts(values):
    worker = f"https://deployq-worker-{PROJECT_NUMBER}.{REGION}.run.app"
    assert values["run_urls"]["worker"] == worker
    assert values["environment"]["WORKER_URL"] == f"{worker}/tasks/run"
    # The audience the packages function puts on every job task.
    assert worker_audience(values["environment"]["WORKER_URL"]) == worker
    assert values["audiences"]["worker"] == [worker]


@needs_terraform
def test_canary_checks_and_sweeps_reach_run_app_urls_the_targets_accept(values):
    canary = f"https://deployq-canary-{PROJECT_NUMBER}.{REGION}.run.app"
    assert values["environment"]["CANARY_URL"] == canary
    # Check tasks are worker jobs: they go to WORKER_URL with the worker's URL as audience.
    assert worker_audience(values["environment"]["WORKER_URL"]) == values["run_urls"]["worker"]
    assert canary in values["audiences"]["canary"]
    for name in ("deployments", "packages", "canary"):
        expected = [values["run_urls"][name], values["function_urls"][name]]
        assert values["audiences"][name] == expected
    for url in values["run_urls"].values():
        assert url.endswith(f".{REGION}.run.app")


@needs_terraform
def test_environments_variable_is_gone_and_urls_are_configured(values):
    env = values["environment"]
    assert "ENVIRONMENTS" not in env
    assert env["PACKAGES_URL"] == values["run_urls"]["packages"]
    assert "PLATFORM_ADMINS" in env


@needs_terraform
def test_organisation_iam_is_derived_from_the_map(values):
    access = values["firestore_access"]
    for db in ("acme-staging-123/staging", "acme-prod-123/(default)"):
        assert f"packages/{db}" in access and f"worker/{db}" in access
        assert f"canary/{db}" not in access and f"deployments/{db}" not in access
    assert set(values["service_grants"]) == {"acme-prod-123/europe-west1/api"}
    assert values["project_grants"] == ["acme-tools-123"]
    assert sorted(values["actas"]) == [
        "api@acme-prod-123.iam.gserviceaccount.com",
        "batch@acme-tools-123.iam.gserviceaccount.com",
    ]
    assert sorted(values["monitoring_projects"]) == [PROJECT, "acme-prod-123", "acme-tools-123"]


@needs_terraform
def test_organisation_records_follow_the_contract_layout(values):
    acme = {k: decode(v) for k, v in json.loads(values["records"]["acme"]).items()}
    assert acme == {
        "name": "acme",
        "environments": {
            "production": {"project": "acme-prod-123", "database": "(default)"},
            "staging": {"project": "acme-staging-123", "database": "staging"},
        },
        "cloud_run_services": SAMPLE_ORGANISATIONS["acme"]["cloud_run_services"],
        "members": SAMPLE_ORGANISATIONS["acme"]["members"],
        "github": {"owner_id": "4242", "rules": SAMPLE_ORGANISATIONS["acme"]["github_rules"]},
        "created_at": "2026-12-07T03:00:00.000000Z",
        "updated_at": "2026-12-07T04:00:00.000000Z",
    }
    # Empty lists and maps are written the way the API returns them (no diff after apply).
    globex = json.loads(values["records"]["globex"])
    assert globex["environments"] == {"mapValue": {}}
    assert globex["members"] == {"arrayValue": {}}
    assert globex["github"]["mapValue"]["fields"]["owner_id"] == {"nullValue": None}


@needs_terraform
def test_an_empty_map_grants_nothing(tmp_path):
    empty = render(tmp_path, {})
    assert all(key.endswith(f"/{PROJECT}/deployq") for key in empty["firestore_access"])
    assert empty["service_grants"] == {} and empty["project_grants"] == [] and empty["actas"] == []
    assert empty["monitoring_projects"] == [PROJECT]


@needs_terraform
def test_a_granted_service_without_its_runtime_account_is_refused(tmp_path):
    service = "projects/acme-prod-123/locations/europe-west1/services/api"
    organisation = {"cloud_run_services": [service]}
    error = plan_error(tmp_path, {"acme": organisation})
    assert "runtime service account(s) of every entry of cloud_run_services" in error


def zero_values(node, path="$"):
    """Paths of the zero, empty and null values the Monitoring API leaves out of its answer."""
    if isinstance(node, dict):
        found = [] if node else [path]
        for key, value in node.items():
            found += zero_values(value, f"{path}.{key}")
        return found
    if isinstance(node, list):
        found = [] if node else [path]
        for index, value in enumerate(node):
            found += zero_values(value, f"{path}[{index}]")
        return found
    return [path] if node in (0, "", None, False) else []


@needs_terraform
def test_dashboard_json_holds_only_what_the_api_returns(values):
    dashboard = json.loads(values["dashboard"])
    assert zero_values(dashboard) == []
    tiles = dashboard["mosaicLayout"]["tiles"]
    assert "xPos" not in tiles[0] and "yPos" not in tiles[0]
    assert tiles[3]["xPos"] == 6 and tiles[3]["yPos"] == 4


@needs_terraform
def test_dashboard_and_alerts_read_the_log_based_metrics(values):
    dashboard = values["dashboard"]
    for metric_type in values["log_metric_types"].values():
        assert metric_type.startswith("logging.googleapis.com/user/deployq-")
        assert metric_type in dashboard
    assert "custom.googleapis.com" not in dashboard
    # Durations: a percentile of the merged distribution, not a mean.
    charts = json.loads(dashboard)["mosaicLayout"]["tiles"]
    duration = next(t for t in charts if t["widget"]["title"].startswith("Deployment duration"))
    for data_set in duration["widget"]["xyChart"]["dataSets"]:
        aggregation = data_set["timeSeriesQuery"]["timeSeriesFilter"]["aggregation"]
        assert aggregation["perSeriesAligner"] == "ALIGN_DELTA"
        assert aggregation["crossSeriesReducer"].startswith("REDUCE_PERCENTILE_")
    alert = resources("google_monitoring_alert_policy")["canary_rolled_back"]
    condition = alert["conditions"][0]["condition_threshold"][0]
    assert 'local.log_metric_types["canary_rollouts_rolled_back"]' in condition["filter"]


@needs_terraform
def test_every_metric_line_filter_reads_the_events_function_stdout(values):
    assert values["metric_log_filter"].splitlines() == [
        'resource.type="cloud_run_revision"',
        'resource.labels.service_name="deployq-events"',
        'log_id("run.googleapis.com/stdout")',
    ]
    for kind in ("counter", "distribution"):
        metric = resources("google_logging_metric")[kind]
        assert metric["filter"].startswith("${local.metric_log_filter}")
        assert "jsonPayload.metric=" in metric["filter"] and "${each.key}" in metric["filter"]
        assert metric["metric_descriptor"][0]["metric_kind"] == "DELTA"
