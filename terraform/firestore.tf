# The control-plane Firestore database (native mode) and the composite indexes
# of every query deployq runs. Locally the emulator needs no index; production
# rejects a query without one, so the list lives in firestore_indexes.json,
# written next to the queries that need it.

locals {
  firestore_indexes_file = coalesce(var.firestore_indexes_file, "${path.module}/firestore_indexes.json")

  firestore_indexes = {
    for index in jsondecode(file(local.firestore_indexes_file)).indexes :
    join("|", concat(
      [index.collection_group, try(index.query_scope, "COLLECTION")],
      [for field in index.fields : "${field.field_path}:${try(field.order, field.array_config)}"],
    )) => index
  }
}

resource "google_firestore_database" "deployq" {
  project     = var.project_id
  name        = var.firestore_database
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  concurrency_mode                  = "OPTIMISTIC"
  delete_protection_state           = var.firestore_protect ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  point_in_time_recovery_enablement = var.firestore_protect ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  # ABANDON: `terraform destroy` forgets the database instead of deleting the queue's history.
  deletion_policy = var.firestore_protect ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.apis]
}

resource "google_firestore_index" "composite" {
  for_each = local.firestore_indexes

  project     = var.project_id
  database    = google_firestore_database.deployq.name
  collection  = each.value.collection_group
  query_scope = try(each.value.query_scope, "COLLECTION")

  # An index has at least one field: the first is written out, the rest follow
  # in order (this also lets the offline schema check see the required block).
  fields {
    field_path   = each.value.fields[0].field_path
    order        = try(each.value.fields[0].order, null)
    array_config = try(each.value.fields[0].array_config, null)
  }

  dynamic "fields" {
    for_each = slice(each.value.fields, 1, length(each.value.fields))
    content {
      field_path   = fields.value.field_path
      order        = try(fields.value.order, null)
      array_config = try(fields.value.array_config, null)
    }
  }

  lifecycle {
    precondition {
      condition = alltrue([
        for field in each.value.fields :
        (try(field.order, null) != null) != (try(field.array_config, null) != null)
        && contains(["ASCENDING", "DESCENDING", "CONTAINS"], try(field.order, field.array_config))
      ])
      error_message = "Index ${each.key}: every field needs exactly one of order (ASCENDING/DESCENDING) or array_config (CONTAINS)."
    }
  }
}

# Idempotency keys are kept 24 h: Firestore deletes them after their `expire_at`.
resource "google_firestore_field" "idempotency_ttl" {
  project    = var.project_id
  database   = google_firestore_database.deployq.name
  collection = "idempotency_keys"
  field      = "expire_at"

  ttl_config {}

  # The field is never queried: no single-field index either.
  index_config {}
}

# Published events are kept a while for the sweep and for debugging, then expire.
resource "google_firestore_field" "outbox_ttl" {
  project    = var.project_id
  database   = google_firestore_database.deployq.name
  collection = "outbox"
  field      = "expire_at"

  ttl_config {}
  index_config {}
}

# Fields never queried that are large or have many sub-fields: no single-field
# indexes (they cost write latency and storage for nothing).
locals {
  unindexed_fields = toset([
    "outbox/event", "outbox/events_json", "audit_logs/before", "audit_logs/after",
    "dora_days/outcomes", "dora_days/restores", "dora_taxonomies/failures",
    "dora_taxonomies/deploys", "runbooks/content", "chunks/text", "chunks/data",
    "before_images/data", "pk_mappings/data", "package_deployments/pk_mapping_json",
    "packages/filter_json", "days/entries",
  ])
}

resource "google_firestore_field" "unindexed" {
  for_each = local.unindexed_fields

  project    = var.project_id
  database   = google_firestore_database.deployq.name
  collection = split("/", each.value)[0]
  field      = split("/", each.value)[1]

  index_config {}
}

# The worker finds a job by id across organisations (a task body without `organisation`).
resource "google_firestore_field" "job_id_group" {
  project    = var.project_id
  database   = google_firestore_database.deployq.name
  collection = "jobs"
  field      = "job_id"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
}
