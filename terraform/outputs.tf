output "function_urls" {
  description = "URL of every function by name (deployments, packages, worker, canary, events)."
  value       = { for name, fn in google_cloudfunctions2_function.function : name => fn.url }
}

output "deployments_url" {
  description = "Base URL of the deployment queue API (deployq CLI and the GitHub Action's api-url)."
  value       = google_cloudfunctions2_function.function["deployments"].url
}

output "packages_url" {
  description = "Base URL of the data packages API."
  value       = google_cloudfunctions2_function.function["packages"].url
}

output "canary_url" {
  description = "Base URL of the canary API."
  value       = google_cloudfunctions2_function.function["canary"].url
}

output "worker_url" {
  description = "URL of the worker (internal: Cloud Tasks and Cloud Scheduler only)."
  value       = google_cloudfunctions2_function.function["worker"].url
}

output "events_url" {
  description = "URL of the events function (internal: Eventarc pushes deployq-events to it)."
  value       = google_cloudfunctions2_function.function["events"].url
}

output "service_account_emails" {
  description = "Every service account of the stack: one per function, plus tasks-invoker, scheduler, events-trigger and fn-build."
  value = merge(
    { for name, sa in google_service_account.function : name => sa.email },
    {
      tasks-invoker  = google_service_account.tasks_invoker.email
      scheduler      = google_service_account.scheduler.email
      events-trigger = google_service_account.events_trigger.email
      fn-build       = google_service_account.build.email
    },
  )
}

output "tasks_queue" {
  description = "Full path of the Cloud Tasks queue (TASKS_QUEUE)."
  value       = google_cloud_tasks_queue.jobs.id
}

output "events_topic" {
  description = "Full path of the deployq-events Pub/Sub topic (EVENTS_TOPIC)."
  value       = google_pubsub_topic.events.id
}

output "firestore_database" {
  description = "Id of the control-plane Firestore database (FIRESTORE_DATABASE)."
  value       = google_firestore_database.deployq.name
}

output "source_bucket" {
  description = "Bucket holding the function source zips."
  value       = google_storage_bucket.sources.name
}

output "function_source_objects" {
  description = "Source zip object of every function (named by content hash)."
  value       = { for name, object in google_storage_bucket_object.function_source : name => object.name }
}

output "api_functions" {
  description = "Functions that answer GET /health to any caller (public HTTP APIs); the rest are internal."
  value       = local.api_functions
}

output "public_api" {
  description = "Whether the HTTP APIs are invokable without Cloud Run IAM (they authenticate requests themselves)."
  value       = var.public_api
}

output "dashboard_id" {
  description = "Id of the Cloud Monitoring dashboard."
  value       = google_monitoring_dashboard.deployq.id
}

output "run_urls" {
  description = "Deterministic run.app URL of every function's Cloud Run service: the target and OIDC audience of tasks and sweeps."
  value       = local.run_urls
}

output "console_url" {
  description = "URL of the web console (null when var.console_enabled is false)."
  value       = var.console_enabled ? google_cloudfunctions2_function.console[0].url : null
}
