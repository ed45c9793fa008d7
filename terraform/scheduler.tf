# Sweeps, each a POST with a Google OIDC token of the scheduler account, whose
# email is in INTERNAL_SERVICE_ACCOUNTS. Target and token audience are the
# function's run.app URL (main.tf): Cloud Run counts Scheduler requests as
# internal only on run.app URLs (the worker has internal-only ingress) and
# checks the audience against the service URL; each function lists that URL
# in GOOGLE_ID_TOKEN_AUDIENCES.
# https://cloud.google.com/run/docs/securing/ingress#internal-services
# https://cloud.google.com/scheduler/docs/http-target-auth#using-oidc

locals {
  sweeps = {
    # Runs every due canary check, so a lost Cloud Task never strands a canary.
    canary-sweep = {
      function    = "canary"
      path        = "/v1/canaries:sweep"
      schedule    = var.schedules.canary_sweep
      description = "Check every canary whose next check is overdue."
      deadline    = "300s"
      retries     = 0 # the next minute's run is the retry
    }
    # Times out jobs stuck in processing past JOB_DEADLINE_SECONDS.
    jobs-sweep = {
      function    = "worker"
      path        = "/tasks/sweep"
      schedule    = var.schedules.jobs_sweep
      description = "Mark jobs stuck in processing as timed out."
      deadline    = "600s"
      retries     = 1
    }
    # Publishes events whose publish failed when the change was made.
    events-sweep = {
      function    = "deployments"
      path        = "/v1/events:sweep"
      schedule    = var.schedules.events_sweep
      description = "Publish every deployq event still unpublished."
      deadline    = "300s"
      retries     = 1
    }
  }
}

resource "google_cloud_scheduler_job" "sweep" {
  for_each = local.sweeps

  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}${each.key}"
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = each.value.deadline

  retry_config {
    retry_count          = each.value.retries
    min_backoff_duration = "10s"
    max_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = "${local.run_urls[each.value.function]}${each.value.path}"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.run_urls[each.value.function]
    }
  }

  # The target must exist and accept the scheduler before the first run.
  depends_on = [google_cloudfunctions2_function.function, google_cloud_run_v2_service_iam_member.internal_invoker]
}
