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

# Index changes (composite indexes and single-field settings) are made in 10 waves, one
# after the other. Firestore applies a database's index changes one at a time: many at once
# (this file makes about 50, and Terraform runs 10 operations at a time by default) fail with
# 409 "Please retry, underlying data changed", and the apply stops half way. Each wave
# starts when the previous one is built, so only a few changes (7 at most with today's
# lists, mostly 3 to 6) run at once. Waves rather than `-parallelism=1`: the rest of the stack still
# deploys in parallel, and nobody has to remember a flag; a full chain (one change per step)
# would need one block per index, waves keep the list in firestore_indexes.json. A change's
# wave comes from a hash of its key, so adding or removing one never moves the others.
# https://cloud.google.com/firestore/docs/query-data/index-manage
# https://cloud.google.com/firestore/docs/reference/rest/v1/projects.databases.collectionGroups.indexes/create
# https://developer.hashicorp.com/terraform/language/meta-arguments/depends_on
locals {
  # Single-field settings by collection/field: TTL fields and fields never queried keep no
  # single-field index (large or many sub-fields: write latency and storage for nothing);
  # jobs.job_id gets a collection-group index (the worker finds a job by id across organisations).
  firestore_fields = merge(
    {
      # Idempotency keys are kept 24 h, published events a while for the sweep: then they expire.
      "idempotency_keys/expire_at" = { ttl = true, indexes = [] }
      "outbox/expire_at"           = { ttl = true, indexes = [] }
      "jobs/job_id"                = { ttl = false, indexes = [{ order = "ASCENDING", query_scope = "COLLECTION_GROUP" }] }
    },
    {
      for path in [
        "outbox/event", "outbox/events_json", "audit_logs/before", "audit_logs/after",
        "dora_days/outcomes", "dora_days/restores", "dora_taxonomies/failures",
        "dora_taxonomies/deploys", "runbooks/content", "chunks/text", "chunks/data",
        "before_images/data", "pk_mappings/data", "package_deployments/pk_mapping_json",
        "packages/filter_json", "days/entries",
      ] : path => { ttl = false, indexes = [] }
    },
  )

  firestore_index_wave_count = 10

  firestore_index_waves = [
    for wave in range(local.firestore_index_wave_count) : {
      indexes = {
        for key, index in local.firestore_indexes : key => index
        if parseint(substr(md5(key), 0, 6), 16) % local.firestore_index_wave_count == wave
      }
      fields = {
        for path, field in local.firestore_fields : path => {
          collection = split("/", path)[0]
          field      = split("/", path)[1]
          ttl        = field.ttl
          indexes    = field.indexes
        } if parseint(substr(md5(path), 0, 6), 16) % local.firestore_index_wave_count == wave
      }
    }
  ]
}

module "firestore_index_wave_0" {
  source = "./modules/firestore_index_wave"

  project_id = var.project_id
  database   = google_firestore_database.deployq.name
  indexes    = local.firestore_index_waves[0].indexes
  fields     = local.firestore_index_waves[0].fields
}

module "firestore_index_wave_1" {
  source = "./modules/firestore_index_wave"

  project_id = var.project_id
  database   = google_firestore_database.deployq.name
  indexes    = local.firestore_index_waves[1].indexes
  fields     = local.firestore_index_waves[1].fields

  depends_on = [module.firestore_index_wave_0]
}

module "firestore_index_wave_2" {
  source = "./modules/firestore_index_wave"

  project_id = var.project_id
  database   = google_firestore_database.deployq.name
  indexes    = local.firestore_index_waves[2].indexes
  fields     = local.firestore_index_waves[2].fields

  depends_on = [module.firestore_index_wave_1]
}

module "firestore_index_wave_3" {
  source = "./modules/firestore_index_wave"

  project_id = var.project_id
  database   = google_firestore_database.deployq.name
  indexes    = local.firestore_index_waves[3].indexes
  fields     = local.firestore_index_waves[3].fields

  depends_on = [module.firestore_index_wave_2]
}

module "firestore_index_wave_4" {
  source = "./modules/firestore_index_wave"

  project_id = var.project_id
  database   = google_firestore_database.deployq.name
  indexes    = local.firestore_index_waves[4].indexes
  fields     = local.firestore_index_waves[4].fields

  depends_on = [module.firestore_index_wave_3]
}

module "firestore_index_wave_5" {
  source = "./modules/firestore_index_wave"

  project_id = var.project_id
  database   = google_firestore_database.deployq.name
  indexes    = local.firestore_index_waves[5].indexes
  fields     = local.firestore_index_waves[5].fields

  depends_on = [module.firestore_index_wave_4]
}

module "firestore_index_wave_6" {
  source = "./modules/firestore_index_wave"

  project_id = var.project_id
  database   = google_firestore_database.deployq.name
  indexes    = local.firestore_index_waves[6].indexes
  fields     = local.firestore_index_waves[6].fields

  depends_on = [module.firestore_index_wave_5]
}

module "firestore_index_wave_7" {
  source = "./modules/firestore_index_wave"

  project_id = var.project_id
  database   = google_firestore_database.deployq.name
  indexes    = local.firestore_index_waves[7].indexes
  fields     = local.firestore_index_waves[7].fields

  depends_on = [module.firestore_index_wave_6]
}

module "firestore_index_wave_8" {
  source = "./modules/firestore_index_wave"

  project_id = var.project_id
  database   = google_firestore_database.deployq.name
  indexes    = local.firestore_index_waves[8].indexes
  fields     = local.firestore_index_waves[8].fields

  depends_on = [module.firestore_index_wave_7]
}

module "firestore_index_wave_9" {
  source = "./modules/firestore_index_wave"

  project_id = var.project_id
  database   = google_firestore_database.deployq.name
  indexes    = local.firestore_index_waves[9].indexes
  fields     = local.firestore_index_waves[9].fields

  depends_on = [module.firestore_index_wave_8]
}
