# deployq on Google Cloud: five Cloud Functions (gen2) around one Firestore
# database, a Cloud Tasks queue, a Pub/Sub topic and three Scheduler sweeps.
# Each concern lives in its own file; this one holds the names every file shares.

locals {
  function_names = ["deployments", "packages", "worker", "canary", "events"]

  # HTTP APIs that GitHub Actions and people call (public at the Cloud Run level when var.public_api).
  api_functions = ["deployments", "packages", "canary"]

  # Gen2 function URLs are predictable: https://<region>-<project>.cloudfunctions.net/<name>.
  # Every function needs its own URL (GOOGLE_ID_TOKEN_AUDIENCES) and the worker's
  # (WORKER_URL); taking them from the resources would make each function depend on
  # itself, so they are computed here and checked against the real `url` after apply
  # (postcondition in functions.tf).
  function_urls = {
    for name in local.function_names :
    name => "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name_prefix}${name}"
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
  # GOOGLE_ID_TOKEN_AUDIENCES differs between functions.
  common_environment = {
    GOOGLE_CLOUD_PROJECT      = var.project_id
    FIRESTORE_DATABASE        = google_firestore_database.deployq.name
    GITHUB_OIDC_AUDIENCE      = var.github_oidc_audience
    ALLOWED_ORGANISATIONS     = join(",", var.allowed_organisations)
    ORG_ACCESS                = jsonencode(var.org_access)
    INTERNAL_SERVICE_ACCOUNTS = join(",", local.internal_service_accounts)
    TASKS_QUEUE               = google_cloud_tasks_queue.jobs.id
    WORKER_URL                = "${local.function_urls["worker"]}/tasks/run"
    TASKS_SERVICE_ACCOUNT     = google_service_account.tasks_invoker.email
    EVENTS_TOPIC              = google_pubsub_topic.events.id
    ENVIRONMENTS              = jsonencode(var.environments)
    JOB_DEADLINE_SECONDS      = tostring(var.job_deadline_seconds)
    CONSOLE_ORIGIN            = var.console_enabled ? local.console_origin : ""
    CONSOLE_OAUTH_CLIENT_ID   = var.console_oauth_client_id
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
