# The web console (docs/console.md): a sixth function that serves the page and its
# assets, built by `make init` into functions/console/static. It reads nothing and holds
# no role: the page calls the deployments, packages and canary APIs with the signed-in
# person's Google ID token.

locals {
  console_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name_prefix}console"

  console_files = var.console_enabled ? sort([
    for f in fileset("${local.source_root}/functions/console", "**") : f
    if !strcontains(f, "__pycache__") && !endswith(f, ".pyc") && f != ".gitignore"
  ]) : []
}

resource "google_service_account" "console" {
  count = var.console_enabled ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}console"
  display_name = "deployq console function"
  description  = "Runtime identity of the deployq console function; it holds no role."

  depends_on = [google_project_service.apis]
}

data "archive_file" "console" {
  count = var.console_enabled ? 1 : 0

  type        = "zip"
  output_path = "${path.root}/.terraform/deployq-zips/console.zip"

  dynamic "source" {
    for_each = merge(
      { for f in local.console_files : f => "${local.source_root}/functions/console/${f}" },
      { "requirements.txt" = "${local.source_root}/requirements.txt" },
    )
    content {
      filename = source.key
      content  = file(source.value)
    }
  }

  lifecycle {
    precondition {
      condition     = fileexists("${local.source_root}/functions/console/static/index.html")
      error_message = "The console's assets are not built: run `make init` (npm ci && npm run build in console/) first."
    }
  }
}

resource "google_storage_bucket_object" "console_source" {
  count = var.console_enabled ? 1 : 0

  bucket       = google_storage_bucket.sources.name
  name         = "console-${substr(data.archive_file.console[0].output_sha256, 0, 16)}.zip"
  source       = data.archive_file.console[0].output_path
  content_type = "application/zip"
}

resource "google_cloudfunctions2_function" "console" {
  #checkov:skip=CKV_GCP_124:The console page is public by design; every API call it makes is authenticated by the API functions.
  count = var.console_enabled ? 1 : 0

  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}console"
  description = "deployq console"
  labels      = local.labels

  build_config {
    runtime           = "python312"
    entry_point       = "console"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.console_source[0].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.console[0].email
    available_memory                 = "256M"
    available_cpu                    = "1"
    timeout_seconds                  = 30
    min_instance_count               = 0
    max_instance_count               = 10
    max_instance_request_concurrency = 40
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"

    environment_variables = {
      DEPLOYMENTS_URL         = local.function_urls["deployments"]
      PACKAGES_URL            = local.function_urls["packages"]
      CANARY_URL              = local.function_urls["canary"]
      CONSOLE_OAUTH_CLIENT_ID = var.console_oauth_client_id
      CONSOLE_ORGANISATIONS   = join(",", var.console_organisations)
    }
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
  ]
}

resource "google_cloud_run_v2_service_iam_member" "console_public" {
  #checkov:skip=CKV_GCP_102:Intended: the page holds no data; the APIs it calls authenticate every request.
  count = var.console_enabled ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.console[0].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
