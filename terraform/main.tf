# deployq on Google Cloud: five Cloud Functions (gen2) around one Firestore
# database, a Cloud Tasks queue, a Pub/Sub topic and three Scheduler sweeps.
# Each concern lives in its own file; this one holds the names every file shares.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  function_names = ["deployments", "packages", "worker", "canary", "events"]

  # HTTP APIs that GitHub Actions and people call (public at the Cloud Run level when var.public_api).
  api_functions = ["deployments", "packages", "canary"]

  # Every gen2 function has two predictable URLs:
  # - https://<region>-<project>.cloudfunctions.net/<name>, the function URL that people and
  #   GitHub Actions call (outputs, the audience their Google ID tokens carry);
  # - https://<name>-<project number>.<region>.run.app, the deterministic URL of its Cloud Run
  #   service. Cloud Run counts Cloud Tasks and Cloud Scheduler requests as internal (so they pass
  #   ALLOW_INTERNAL_ONLY ingress) only when they call a run.app URL, and checks the OIDC audience
  #   against the service URL, so every task and sweep uses this one, as target and as audience.
  #   https://cloud.google.com/run/docs/triggering/https-request#deterministic
  #   https://cloud.google.com/run/docs/securing/ingress#internal-services
  #   https://cloud.google.com/run/docs/authenticating/service-to-service#acquire-token
  # Reading them from the function resources would make each function depend on itself, so they
  # are computed here (postcondition on the function URL in functions.tf).
  function_urls = {
    for name in local.function_names :
    name => "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name_prefix}${name}"
  }

  run_urls = {
    for name in local.function_names :
    name => "https://${var.name_prefix}${name}-${data.google_project.this.number}.${var.region}.run.app"
  }

  # Audiences each function accepts in Google ID tokens (GOOGLE_ID_TOKEN_AUDIENCES): its run.app
  # URL (the tasks and sweeps sent to it); the HTTP APIs also their function URL and the extra
  # audiences (custom domains). The worker and events accept their run.app URL only.
  id_token_audiences = {
    for name in local.function_names : name => concat(
      [local.run_urls[name]],
      contains(local.api_functions, name) ? concat([local.function_urls[name]], var.extra_id_token_audiences) : [],
    )
  }

  source_root = coalesce(var.source_root, "${path.module}/..")

  firestore_location = coalesce(var.firestore_location, var.region)

  labels = merge({ app = "deployq" }, var.labels)

  # Identities whose Google ID tokens the internal endpoints accept (INTERNAL_SERVICE_ACCOUNTS).
  internal_service_accounts = [
    google_service_account.scheduler.email,
    google_service_account.tasks_invoker.email,
    google_service_account.events_trigger.email,
  ]

  # Configuration shared by every function (DESIGN.md, "Configuration"). Only
  # GOOGLE_ID_TOKEN_AUDIENCES differs between functions. ENVIRONMENTS is gone: each
  # organisation's environments live in its record (organisations.tf).
  common_environment = {
    GOOGLE_CLOUD_PROJECT      = var.project_id
    FIRESTORE_DATABASE        = google_firestore_database.deployq.name
    GITHUB_OIDC_AUDIENCE      = var.github_oidc_audience
    ALLOWED_ORGANISATIONS     = join(",", var.allowed_organisations)
    ORG_ACCESS                = jsonencode(var.org_access)
    PLATFORM_ADMINS           = join(",", var.platform_admins)
    INTERNAL_SERVICE_ACCOUNTS = join(",", local.internal_service_accounts)
    TASKS_QUEUE               = google_cloud_tasks_queue.jobs.id
    # Job tasks (package deploys and generations, canary checks) are POSTed here; their OIDC
    # audience is this URL's origin, the worker's run.app URL (shared/jobs/queue.py), which is
    # exactly the worker's GOOGLE_ID_TOKEN_AUDIENCES.
    WORKER_URL            = "${local.run_urls["worker"]}/tasks/run"
    TASKS_SERVICE_ACCOUNT = google_service_account.tasks_invoker.email
    EVENTS_TOPIC          = google_pubsub_topic.events.id
    # Served by GET /v1/discovery. The run.app URLs reach the same functions.
    PACKAGES_URL         = local.run_urls["packages"]
    CANARY_URL           = local.run_urls["canary"]
    JOB_DEADLINE_SECONDS = tostring(var.job_deadline_seconds)
    # The console's page origin (terraform/console.tf), allowed by CORS on the APIs.
    CONSOLE_ORIGIN          = var.console_enabled ? "https://${var.region}-${var.project_id}.cloudfunctions.net" : ""
    CONSOLE_OAUTH_CLIENT_ID = var.console_oauth_client_id
  }

  function_defaults = {
    deployments = { memory = "512M", cpu = "1", timeout_seconds = 60, min_instances = 0, max_instances = 100, concurrency = 20 }
    packages    = { memory = "1Gi", cpu = "1", timeout_seconds = 540, min_instances = 0, max_instances = 50, concurrency = 4 }
    # Cloud Tasks waits at most 30 minutes for an HTTP target.
    worker = { memory = "1Gi", cpu = "1", timeout_seconds = 1800, min_instances = 0, max_instances = 50, concurrency = 1 }
    canary = { memory = "512M", cpu = "1", timeout_seconds = 300, min_instances = 0, max_instances = 20, concurrency = 10 }
    events = { memory = "256M", cpu = "1", timeout_seconds = 60, min_instances = 0, max_instances = 50, concurrency = 10 }
  }

  function_settings = {
    for name in local.function_names : name => {
      for key, value in local.function_defaults[name] :
      key => try(coalesce(var.function_settings[name][key], value), value)
    }
  }
}
