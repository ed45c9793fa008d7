# The one Cloud Tasks queue: background and scheduled package jobs and canary
# checks, all delivered to the worker with an OIDC token of the tasks invoker.
# A failed delivery (5xx from the worker) is retried with exponential backoff
# until max_attempts, after which the worker has marked the job failed.
# Note: a deleted queue's name cannot be reused for about 7 days.

resource "google_cloud_tasks_queue" "jobs" {
  project  = var.project_id
  location = var.region
  name     = "${var.name_prefix}jobs"

  rate_limits {
    max_dispatches_per_second = var.tasks_rate_limits.max_dispatches_per_second
    max_concurrent_dispatches = var.tasks_rate_limits.max_concurrent_dispatches
  }

  retry_config {
    max_attempts  = var.tasks_retry.max_attempts
    min_backoff   = var.tasks_retry.min_backoff
    max_backoff   = var.tasks_retry.max_backoff
    max_doublings = var.tasks_retry.max_doublings
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.apis]
}
