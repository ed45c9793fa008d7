# Organisation records (contract/organisations.md): var.organisations is written to
# Firestore organisations/{org} of the control-plane database, and the IAM that lets
# packages, worker and canary act on an organisation's environments and Cloud Run
# services is derived from the same map (iam.tf). The next apply overwrites changes
# made through the API (PUT/PATCH /v1/organisation(s)) to an organisation listed here.
#
# Document fields use the Firestore REST Value encoding, written the way the API returns
# it (an empty array is {"arrayValue": {}}, an empty map {"mapValue": {}}), so a plan after
# apply shows no change:
# https://cloud.google.com/firestore/docs/reference/rest/v1/Value
# https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/firestore_document

locals {
  # Stable inputs of each record: a change to any of them moves updated_at.
  organisation_content = {
    for org, o in var.organisations : org => {
      environments       = o.environments
      cloud_run_services = o.cloud_run_services
      members            = o.members
      github_rules       = o.github_rules
      github_owner_id    = o.github_owner_id
    }
  }

  # Firestore values of each record. `{ for k, v in {...} : k => v if ... }` leaves out a key
  # (members' absent identities, an empty list's "values") without mixing object types.
  organisation_fields = {
    for org, o in var.organisations : org => {
      name = { stringValue = org }
      environments = {
        mapValue = { for k, v in {
          fields = {
            for env, e in o.environments : env => {
              mapValue = { fields = { project = { stringValue = e.project }, database = { stringValue = e.database } } }
            }
          } } : k => v if length(o.environments) > 0
        }
      }
      cloud_run_services = {
        arrayValue = { for k, v in { values = [for s in o.cloud_run_services : { stringValue = s }] } : k => v if length(o.cloud_run_services) > 0 }
      }
      members = {
        arrayValue = { for k, v in {
          values = [for m in o.members : {
            mapValue = {
              fields = merge(
                { for key, value in { email = m.email, github_login = m.github_login } : key => { stringValue = value } if value != null },
                { role = { stringValue = m.role } },
              )
            }
          }]
        } : k => v if length(o.members) > 0 }
      }
      github = {
        mapValue = {
          fields = {
            # Both branches are JSON text, so null and text need no common object type.
            owner_id = jsondecode(o.github_owner_id == null ? "{\"nullValue\":null}" : jsonencode({ stringValue = o.github_owner_id }))
            rules = {
              arrayValue = { for k, v in {
                values = [for r in o.github_rules : {
                  mapValue = {
                    fields = merge(
                      { for key, value in { repository = r.repository, ref = r.ref, environment = r.environment } : key => { stringValue = value } if value != null },
                      { role = { stringValue = r.role } },
                    )
                  }
                }]
              } : k => v if length(o.github_rules) > 0 }
            }
          }
        }
      }
      # The contract's fixed-width timestamp form (2026-01-02T03:04:05.123456Z).
      created_at = { stringValue = replace(time_static.organisation_created[org].rfc3339, "Z", ".000000Z") }
      updated_at = { stringValue = replace(time_static.organisation_updated[org].rfc3339, "Z", ".000000Z") }
    }
  }
}

resource "time_static" "organisation_created" {
  for_each = var.organisations
}

# A new time whenever the organisation's entry changes.
resource "time_static" "organisation_updated" {
  for_each = var.organisations

  triggers = {
    content = sha256(jsonencode(local.organisation_content[each.key]))
  }
}

resource "google_firestore_document" "organisation" {
  for_each = var.organisations

  project     = var.project_id
  database    = google_firestore_database.deployq.name
  collection  = "organisations"
  document_id = each.key
  fields      = jsonencode(local.organisation_fields[each.key])

  lifecycle {
    precondition {
      # contract/organisations.md item 4: control_plane_database.
      condition     = alltrue([for e in values(each.value.environments) : !(e.project == var.project_id && e.database == var.firestore_database)])
      error_message = "Organisation ${each.key}: an environment may not be the control plane's own database (${var.project_id}/${var.firestore_database})."
    }
  }
}
