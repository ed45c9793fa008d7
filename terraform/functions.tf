# The five functions: Cloud Functions gen2, Python 3.12, entry point = name.

resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:The HTTP APIs must be reachable from GitHub-hosted runners and engineers anywhere (they authenticate every request); worker and events take var.internal_ingress, ALLOW_INTERNAL_ONLY by default.
  for_each = toset(local.function_names)

  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}${each.key}"
  description = "deployq ${each.key}"
  labels      = local.labels

  build_config {
    runtime           = "python312"
    entry_point       = each.key
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source[each.key].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function[each.key].email
    available_memory                 = local.function_settings[each.key].memory
    available_cpu                    = local.function_settings[each.key].cpu
    timeout_seconds                  = local.function_settings[each.key].timeout_seconds
    min_instance_count               = local.function_settings[each.key].min_instances
    max_instance_count               = local.function_settings[each.key].max_instances
    max_instance_request_concurrency = local.function_settings[each.key].concurrency
    all_traffic_on_latest_revision   = true

    # The APIs must be reachable by GitHub runners and engineers anywhere; worker and
    # events are only ever called by Cloud Tasks, Cloud Scheduler and Eventarc.
    ingress_settings = contains(local.api_functions, each.key) ? "ALLOW_ALL" : var.internal_ingress

    environment_variables = merge(local.common_environment, {
      # Its own URL first (the canary function targets its check tasks there); the worker
      # also accepts the audience job tasks carry: the URL's origin.
      GOOGLE_ID_TOKEN_AUDIENCES = join(",", concat(
        [local.function_urls[each.key]],
        each.key == "worker" ? ["https://${var.region}-${var.project_id}.cloudfunctions.net"] : [],
        var.extra_id_token_audiences,
      ))
    })
  }

  dynamic "event_trigger" {
    for_each = each.key == "events" ? [1] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = google_pubsub_topic.events.id
      service_account_email = google_service_account.events_trigger.email
      # A failed delivery is retried (Pub/Sub backoff); the function acknowledges
      # messages it cannot use, so nothing retries forever.
      retry_policy = "RETRY_POLICY_RETRY"
    }
  }

  lifecycle {
    postcondition {
      condition     = self.url == local.function_urls[each.key]
      error_message = "The function URL (${self.url}) differs from the predicted ${local.function_urls[each.key]}; GOOGLE_ID_TOKEN_AUDIENCES, WORKER_URL and the Scheduler jobs are built from the predicted form."
    }
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.firestore_user,
  ]
}
