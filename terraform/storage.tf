# Function sources. Each function's zip holds functions/<name>/* and
# requirements.txt at its root plus the shared/ package, and is uploaded under
# a name made of its SHA-256, so any code change gives a new object name and
# Cloud Functions rebuilds; unchanged code plans no change.
#
# Two ways to get the zips, both offline:
# - default: archive_file builds them here from var.source_root, one `source`
#   block per file (such entries are written sorted and without timestamps or
#   modes, so the hash only moves when a file does);
# - var.function_zips: zips built beforehand by scripts/build_zips.py (Cloud
#   Build does this, and rolls back by re-applying the previous zips).

locals {
  archived_functions = toset([for name in local.function_names : name if !contains(keys(var.function_zips), name)])

  shared_files = sort([
    for f in fileset("${local.source_root}/shared", "**") : f
    if !strcontains(f, "__pycache__") && !endswith(f, ".pyc")
  ])

  function_files = {
    for name in local.archived_functions : name => sort([
      for f in fileset("${local.source_root}/functions/${name}", "**") : f
      if !strcontains(f, "__pycache__") && !endswith(f, ".pyc")
    ])
  }

  function_sources = merge(
    { for name, zip in data.archive_file.function : name => { path = zip.output_path, sha256 = zip.output_sha256 } },
    { for name, path in var.function_zips : name => { path = path, sha256 = filesha256(path) } },
  )
}

data "archive_file" "function" {
  for_each = local.archived_functions

  type        = "zip"
  output_path = "${path.root}/.terraform/deployq-zips/${each.key}.zip"

  dynamic "source" {
    for_each = merge(
      { for f in local.shared_files : "shared/${f}" => "${local.source_root}/shared/${f}" },
      { for f in local.function_files[each.key] : f => "${local.source_root}/functions/${each.key}/${f}" },
      { "requirements.txt" = "${local.source_root}/requirements.txt" },
    )
    content {
      filename = source.key
      content  = file(source.value)
    }
  }

  lifecycle {
    precondition {
      condition     = fileexists("${local.source_root}/functions/${each.key}/main.py")
      error_message = "functions/${each.key}/main.py is missing under source_root (${local.source_root})."
    }
  }
}

resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Holds only build inputs re-creatable from git; Cloud Audit Logs record access, a second log bucket adds cost without insight.
  project  = var.project_id
  name     = "${var.project_id}-${var.name_prefix}sources"
  location = var.region
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Zips are derived from git: destroying the stack may empty the bucket.
  force_destroy = true

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "function_source" {
  for_each = toset(local.function_names)

  bucket       = google_storage_bucket.sources.name
  name         = "${each.key}-${substr(local.function_sources[each.key].sha256, 0, 16)}.zip"
  source       = local.function_sources[each.key].path
  content_type = "application/zip"
}

# Images of the functions, in a repository the build identity may write to
# (instead of a project-wide grant on the auto-created gcf-artifacts).
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Images are built from public source code; Google-managed encryption is enough, set up CMEK centrally if policy requires it.
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}functions"
  format        = "DOCKER"
  description   = "Images of the deployq functions (built by Cloud Functions)."
  labels        = local.labels

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }

  cleanup_policies {
    id     = "delete-old-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.apis]
}
