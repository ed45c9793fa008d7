# Identities and what each may do. One runtime service account per function,
# plus the identities that call the internal endpoints (Cloud Tasks, Cloud
# Scheduler, Eventarc) and the one that builds the function images. Grants are
# made on the specific resource wherever Google Cloud allows it.

resource "google_service_account" "function" {
  for_each = toset(local.function_names)

  project      = var.project_id
  account_id   = "${var.name_prefix}${each.key}"
  display_name = "deployq ${each.key} function"
  description  = "Runtime identity of the deployq ${each.key} function."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "tasks_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}tasks-invoker"
  display_name = "deployq Cloud Tasks invoker"
  description  = "Identity in the OIDC token of every Cloud Task sent to the worker (TASKS_SERVICE_ACCOUNT)."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${var.name_prefix}scheduler"
  display_name = "deployq Cloud Scheduler"
  description  = "Identity in the OIDC token of the sweep jobs (canary, jobs, events)."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "events_trigger" {
  project      = var.project_id
  account_id   = "${var.name_prefix}events-trigger"
  display_name = "deployq events trigger"
  description  = "Identity Eventarc uses to push deployq-events messages to the events function."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}fn-build"
  display_name = "deployq function builds"
  description  = "Identity of the Cloud Build runs that turn the source zips into function images."

  depends_on = [google_project_service.apis]
}

locals {
  function_members = { for name, sa in google_service_account.function : name => "serviceAccount:${sa.email}" }

  # Firestore access: every function on the control-plane database; packages and
  # worker also on each data-package environment database. Deduplicated, since
  # an environment may be the control-plane database itself.
  firestore_access = {
    for grant in distinct(concat(
      [for name in local.function_names : { function = name, project = var.project_id, database = var.firestore_database }],
      flatten([
        for env in values(var.environments) : [
          for name in ["packages", "worker"] : { function = name, project = env.project, database = env.database }
        ]
      ]),
    )) : "${grant.function}/${grant.project}/${grant.database}" => grant
  }

  # Canary checks run in the canary function (sweep) and in the worker (Cloud Tasks).
  canary_runners = ["canary", "worker"]

  monitoring_projects = distinct(concat([var.project_id], [for s in var.canary_managed_services : s.project]))

  canary_grants = {
    for pair in setproduct(local.canary_runners, var.canary_managed_services) :
    "${pair[0]}/${pair[1].project}/${pair[1].region}/${pair[1].service}" => { function = pair[0], target = pair[1] }
  }

  canary_actas = {
    for pair in setproduct(local.canary_runners, distinct(compact([for s in var.canary_managed_services : s.service_account]))) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], service_account = pair[1] }
  }
}

# --- Firestore ---------------------------------------------------------------

# roles/datastore.user can only be granted on a project (Firestore has no
# per-database IAM resource); the IAM condition narrows each grant to one
# database of that project.
resource "google_project_iam_member" "firestore_user" {
  for_each = local.firestore_access

  project = each.value.project
  role    = "roles/datastore.user"
  member  = local.function_members[each.value.function]

  condition {
    title       = "deployq-${each.value.database}"
    description = "Only the ${each.value.database} Firestore database."
    expression  = "resource.name == \"projects/${each.value.project}/databases/${each.value.database}\""
  }
}

# --- Cloud Tasks ---------------------------------------------------------------

# Who enqueues: packages (background and scheduled jobs), canary (checks), worker (next checks).
resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = toset(["packages", "canary", "worker"])

  project  = var.project_id
  location = google_cloud_tasks_queue.jobs.location
  name     = google_cloud_tasks_queue.jobs.name
  role     = "roles/cloudtasks.enqueuer"
  member   = local.function_members[each.key]
}

# Cancelling a job deletes its task.
resource "google_cloud_tasks_queue_iam_member" "task_deleter" {
  project  = var.project_id
  location = google_cloud_tasks_queue.jobs.location
  name     = google_cloud_tasks_queue.jobs.name
  role     = "roles/cloudtasks.taskDeleter"
  member   = local.function_members["packages"]
}

# The worker reads the queue's retry settings and its own task (last attempt or not).
resource "google_cloud_tasks_queue_iam_member" "worker_viewer" {
  project  = var.project_id
  location = google_cloud_tasks_queue.jobs.location
  name     = google_cloud_tasks_queue.jobs.name
  role     = "roles/cloudtasks.viewer"
  member   = local.function_members["worker"]
}

# A task carrying an OIDC token for the tasks invoker needs actAs on that account only.
resource "google_service_account_iam_member" "tasks_invoker_user" {
  for_each = toset(["packages", "canary", "worker"])

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.function_members[each.key]
}

# --- Pub/Sub -------------------------------------------------------------------

# Every function that changes a deployment publishes its event (packages never does).
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = toset(["deployments", "canary", "worker"])

  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = local.function_members[each.key]
}

# --- Invoking the functions -----------------------------------------------------

# The HTTP APIs verify GitHub OIDC tokens, PATs and Google ID tokens themselves, and
# GitHub runners hold no Google identity, so Cloud Run must let the request through.
resource "google_cloud_run_v2_service_iam_member" "public_api" {
  #checkov:skip=CKV_GCP_102:Intended: the API authenticates every request itself (GitHub OIDC, PAT or Google ID token); var.public_api=false turns this off.
  for_each = var.public_api ? toset(local.api_functions) : toset([])

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "api_invokers" {
  for_each = { for pair in setproduct(local.api_functions, var.invokers) : "${pair[0]}/${pair[1]}" => { function = pair[0], member = pair[1] } }

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

locals {
  # Cloud Run invokers of the internal callers: tasks -> worker and canary checks; the scheduler ->
  # the three sweep targets (needed when public_api is false); Eventarc -> events.
  internal_invokers = {
    "worker/tasks"          = { function = "worker", member = "serviceAccount:${google_service_account.tasks_invoker.email}" }
    "worker/scheduler"      = { function = "worker", member = "serviceAccount:${google_service_account.scheduler.email}" }
    "canary/scheduler"      = { function = "canary", member = "serviceAccount:${google_service_account.scheduler.email}" }
    "canary/tasks"          = { function = "canary", member = "serviceAccount:${google_service_account.tasks_invoker.email}" }
    "deployments/scheduler" = { function = "deployments", member = "serviceAccount:${google_service_account.scheduler.email}" }
    "events/trigger"        = { function = "events", member = "serviceAccount:${google_service_account.events_trigger.email}" }
  }
}

resource "google_cloud_run_v2_service_iam_member" "internal_invoker" {
  for_each = local.internal_invokers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

# --- Cloud Monitoring ----------------------------------------------------------

# Monitoring roles exist only at project level (metrics scopes have no finer IAM).
resource "google_project_iam_member" "metric_writer" {
  for_each = toset(["canary", "worker", "events"])

  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = local.function_members[each.key]
}

# Canary checks read request counts and latencies of the managed services' projects.
resource "google_project_iam_member" "monitoring_viewer" {
  for_each = { for pair in setproduct(local.canary_runners, local.monitoring_projects) : "${pair[0]}/${pair[1]}" => { function = pair[0], project = pair[1] } }

  project = each.value.project
  role    = "roles/monitoring.viewer"
  member  = local.function_members[each.value.function]
}

# --- Cloud Run (canary traffic) ------------------------------------------------

# With a list of managed services: run.developer on each service only.
resource "google_cloud_run_v2_service_iam_member" "canary_developer" {
  for_each = local.canary_grants

  project  = each.value.target.project
  location = each.value.target.region
  name     = each.value.target.service
  role     = "roles/run.developer"
  member   = local.function_members[each.value.function]
}

# Without a list, the canary may shift traffic of any Cloud Run service of the
# control-plane project: project-level run.developer, by design of the empty list.
resource "google_project_iam_member" "canary_developer_project" {
  for_each = length(var.canary_managed_services) == 0 ? toset(local.canary_runners) : toset([])

  project = var.project_id
  role    = "roles/run.developer"
  member  = local.function_members[each.key]
}

# Updating a Cloud Run service needs actAs on its runtime identity; granted on those accounts only.
resource "google_service_account_iam_member" "canary_actas" {
  for_each = local.canary_actas

  # "-" lets IAM find the account's project (it may live outside the service's project).
  service_account_id = "projects/-/serviceAccounts/${each.value.service_account}"
  role               = "roles/iam.serviceAccountUser"
  member             = local.function_members[each.value.function]
}

# --- Builds --------------------------------------------------------------------

# Build logs: Cloud Logging has no per-resource IAM for writing.
resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}
