# One wave of index changes of the control-plane database: composite indexes and
# single-field settings. firestore.tf chains the waves with depends_on, so only a few
# index operations run at once on the database.

variable "project_id" {
  description = "Project of the Firestore database."
  type        = string
}

variable "database" {
  description = "Firestore database id."
  type        = string
}

variable "fields" {
  description = "Single-field settings of this wave by collection/field: TTL on or off, and the single-field indexes to keep (none: not indexed)."
  type = map(object({
    collection = string
    field      = string
    ttl        = bool
    indexes = list(object({
      order       = string
      query_scope = string
    }))
  }))
}

variable "indexes" {
  description = "Indexes of this wave by key: {collection_group, query_scope?, fields: [{field_path, order | array_config}]}."
  type        = any
}

resource "google_firestore_index" "composite" {
  for_each = var.indexes

  project     = var.project_id
  database    = var.database
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

# TTL and single-field index settings.
# https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/firestore_field
resource "google_firestore_field" "field" {
  for_each = var.fields

  project    = var.project_id
  database   = var.database
  collection = each.value.collection
  field      = each.value.field

  dynamic "ttl_config" {
    for_each = each.value.ttl ? [1] : []
    content {}
  }

  # An empty index_config removes the single-field indexes.
  index_config {
    dynamic "indexes" {
      for_each = each.value.indexes
      content {
        order       = indexes.value.order
        query_scope = indexes.value.query_scope
      }
    }
  }
}

output "index_ids" {
  description = "Ids of the composite indexes of this wave."
  value       = [for index in google_firestore_index.composite : index.id]
}
