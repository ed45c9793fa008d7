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

  # Every environment database of every organisation (var.organisations), once each.
  organisation_databases = distinct(flatten([
    for org in values(var.organisations) : [for env in values(org.environments) : { project = env.project, database = env.database }]
  ]))

  # Firestore access: every function on the control-plane database; packages and worker
  # also on each organisation's environment databases. Deduplicated: organisations may share one.
  firestore_access = {
    for grant in distinct(concat(
      [for name in local.function_names : { function = name, project = var.project_id, database = var.firestore_database }],
      flatten([
        for db in local.organisation_databases : [
          for name in ["packages", "worker"] : { function = name, project = db.project, database = db.database }
        ]
      ]),
    )) : "${grant.function}/${grant.project}/${grant.database}" => grant
  }

  # Granted Cloud Run services of every organisation, parsed from projects/P/locations/L/services/S.
  granted_services = distinct(flatten([
    for org in values(var.organisations) : [
      for pattern in org.cloud_run_services : {
        project  = split("/", pattern)[1]
        location = split("/", pattern)[3]
        service  = split("/", pattern)[5]
      }
    ]
  ]))

  # An exact service: roles/run.developer on that service. A pattern ending in *: on its project
  # (Cloud Run IAM has no grant on a name prefix).
  canary_service_grants = {
    for s in local.granted_services : "${s.project}/${s.location}/${s.service}" => s if !endswith(s.service, "*")
  }
  canary_project_grants = toset([for s in local.granted_services : s.project if endswith(s.service, "*")])

  # Runtime accounts of the granted services: the canary needs actAs on each to update traffic.
  canary_actas_accounts = toset(flatten([
    for org in values(var.organisations) : flatten(values(org.cloud_run_service_accounts))
  ]))

  # The canary reads request counts and latencies where the granted services run.
  monitoring_projects = toset(concat([var.project_id], [for s in local.granted_services : s.project]))

  # Who acts on granted services: the canary (start, promote, abort) and the worker (canary
  # checks are worker jobs: traffic steps and automatic rollbacks).
  canary_runners = ["canary", "worker"]
  runner_service_grants = {
    for pair in setproduct(keys(local.canary_service_grants), local.canary_runners) :
    "${pair[1]}:${pair[0]}" => merge(local.canary_service_grants[pair[0]], { runner = pair[1] })
  }
  runner_project_grants = {
    for pair in setproduct(tolist(local.canary_project_grants), local.canary_runners) :
    "${pair[1]}:${pair[0]}" => { project = pair[0], runner = pair[1] }
  }
  runner_actas_accounts = {
    for pair in setproduct(tolist(local.canary_actas_accounts), local.canary_runners) :
    "${pair[1]}:${pair[0]}" => { account = pair[0], runner = pair[1] }
  }
  runner_monitoring_projects = {
    for pair in setproduct(tolist(local.monitoring_projects), local.canary_runners) :
    "${pair[1]}:${pair[0]}" => { project = pair[0], runner = pair[1] }
  }
}

# --- Firestore ---------------------------------------------------------------

# roles/datastore.user can only be granted on a project (Firestore has no per-database
# IAM resource); the IAM condition narrows each grant to one database of that project:
# the database itself or anything under it (documents), never a database whose id merely
# starts with the same letters.
# https://cloud.google.com/firestore/docs/security/iam#iam_conditions
resource "google_project_iam_member" "firestore_user" {
  for_each = local.firestore_access

  project = each.value.project
  role    = "roles/datastore.user"
  member  = local.function_members[each.value.function]

  condition {
    title       = "deployq-${each.value.database}"
    description = "Only the ${each.value.database} Firestore database."
    expression  = "resource.name == \"projects/${each.value.project}/databases/${each.value.database}\" || resource.name.startsWith(\"projects/${each.value.project}/databases/${each.value.database}/\")"
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

# Canary checks (canary and worker) read request counts and latencies of the granted services' projects.
resource "google_project_iam_member" "monitoring_viewer" {
  for_each = local.runner_monitoring_projects

  project = each.value.project
  role    = "roles/monitoring.viewer"
  member  = local.function_members[each.value.runner]
}

# --- Cloud Run (canary traffic), from var.organisations -------------------------

# No grant, no access: without organisations granting services, the canary can change no
# Cloud Run service at all (there is no project-wide fallback).
# https://cloud.google.com/run/docs/reference/iam/roles
resource "google_cloud_run_v2_service_iam_member" "canary_developer" {
  for_each = local.runner_service_grants

  project  = each.value.project
  location = each.value.location
  name     = each.value.service
  role     = "roles/run.developer"
  member   = local.function_members[each.value.runner]
}

# A pattern ending in * names services that may not exist yet: the grant is on their project.
resource "google_project_iam_member" "canary_developer_pattern" {
  for_each = local.runner_project_grants

  project = each.value.project
  role    = "roles/run.developer"
  member  = local.function_members[each.value.runner]
}

# Updating a Cloud Run service (its traffic split) needs actAs on the service's runtime
# identity: granted on those accounts only.
# https://cloud.google.com/run/docs/reference/iam/roles#additional-configuration
resource "google_service_account_iam_member" "canary_actas" {
  for_each = local.runner_actas_accounts

  # "-" lets IAM find the account's project (it may live outside the service's project).
  service_account_id = "projects/-/serviceAccounts/${each.value.account}"
  role               = "roles/iam.serviceAccountUser"
  member             = local.function_members[each.value.runner]
}

# --- Builds --------------------------------------------------------------------

# The identity of the function builds, with what the custom build service account
# documentation lists, each on the narrowest resource it allows:
# https://cloud.google.com/functions/docs/securing/build-custom-sa
# https://cloud.google.com/build/docs/cloud-build-service-account-updates
#
# Build logs: Cloud Logging has no per-resource IAM for writing.
resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

# The images: only the functions repository.
resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}

# The zips as uploaded.
resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# Gen2 builds read Google's copy of the source in gcf-v2-sources-<project number>-<region>, a
# bucket Cloud Functions creates at the first deployment (so no bucket-level grant can exist
# before it): read on that bucket alone, through an IAM condition on the project.
# https://cloud.google.com/storage/docs/access-control/iam#conditions
resource "google_project_iam_member" "build_gcf_sources_reader" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = "serviceAccount:${google_service_account.build.email}"

  condition {
    title       = "gcf-v2-sources-${var.region}"
    description = "Only the Cloud Functions gen2 source bucket of ${var.region}."
    expression  = "resource.name == \"projects/_/buckets/${local.gcf_sources_bucket}\" || resource.name.startsWith(\"projects/_/buckets/${local.gcf_sources_bucket}/\")"
  }
}

# --- Google service agents ---------------------------------------------------------

locals {
  gcf_sources_bucket = "gcf-v2-sources-${data.google_project.this.number}-${var.region}"
  eventarc_agent     = "service-${data.google_project.this.number}@gcp-sa-eventarc.iam.gserviceaccount.com"
  pubsub_agent       = "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# The Eventarc service agent exists, and gets its role, only when the project's first Eventarc
# resource is made; the events trigger would fail with "Permission denied while using the
# Eventarc Service Agent". Create the identity now and grant it (then wait, below).
# https://cloud.google.com/eventarc/docs/troubleshooting#trigger-permission-denied
# https://cloud.google.com/eventarc/docs/access-control#service-agents
resource "google_project_service_identity" "eventarc" {
  provider = google-beta

  project = var.project_id
  service = "eventarc.googleapis.com"

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "eventarc_agent" {
  #checkov:skip=CKV_GCP_49:Google's own Eventarc service agent with the role Google defines for it (it mints the tokens of trigger deliveries); the member is the agent, never one of ours.
  project = var.project_id
  role    = "roles/eventarc.serviceAgent"
  member  = "serviceAccount:${local.eventarc_agent}"

  depends_on = [google_project_service_identity.eventarc]
}

# Pub/Sub mints the OIDC token of each authenticated push (Eventarc's Pub/Sub subscription) for
# the events-trigger account; projects whose Pub/Sub agent predates April 2021 lack the built-in
# permission. Granted on that one account rather than the project.
# https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions
# https://cloud.google.com/eventarc/docs/run/create-trigger-pubsub-gcloud#before-you-begin
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.apis]
}

resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.events_trigger.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${local.pubsub_agent}"

  depends_on = [google_project_service_identity.pubsub]
}

# IAM changes take effect within minutes, not at once: the first build and the Eventarc
# trigger wait for the grants they need to propagate (waits again whenever one is replaced).
# https://cloud.google.com/iam/docs/access-change-propagation
# https://registry.terraform.io/providers/hashicorp/time/latest/docs/resources/sleep
resource "time_sleep" "iam_propagation" {
  create_duration = "120s"

  triggers = {
    eventarc_agent       = google_project_iam_member.eventarc_agent.id
    pubsub_token_creator = google_service_account_iam_member.pubsub_token_creator.id
    build_log_writer     = google_project_iam_member.build_log_writer.id
    build_writer         = google_artifact_registry_repository_iam_member.build_writer.id
    build_source_reader  = google_storage_bucket_iam_member.build_source_reader.id
    build_gcf_sources    = google_project_iam_member.build_gcf_sources_reader.id
  }
}
