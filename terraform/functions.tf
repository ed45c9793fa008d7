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
    # events are only ever called by Cloud Tasks, Cloud Scheduler (on their run.app URL,
    # main.tf) and Eventarc, which internal ingress admits.
    ingress_settings = contains(local.api_functions, each.key) ? "ALLOW_ALL" : var.internal_ingress

    environment_variables = merge(local.common_environment, {
      GOOGLE_ID_TOKEN_AUDIENCES = join(",", local.id_token_audiences[each.key])
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
      error_message = "The function URL (${self.url}) differs from the predicted ${local.function_urls[each.key]}; GOOGLE_ID_TOKEN_AUDIENCES and the outputs are built from the predicted form."
    }
  }

  # The grants the build and the Eventarc trigger need must exist, and have propagated,
  # before the first build and trigger (iam.tf, time_sleep.iam_propagation).
  depends_on = [
    google_project_service.apis,
    time_sleep.iam_propagation,
    google_project_iam_member.firestore_user,
  ]
}
