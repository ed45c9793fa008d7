locals {
  apis = [
    "artifactregistry.googleapis.com", # function images
    "cloudbuild.googleapis.com",       # function builds
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com", # project IAM bindings
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "eventarc.googleapis.com", # the events function's Pub/Sub trigger
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com", # OIDC tokens minted for Tasks, Scheduler and Eventarc
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com", # gen2 functions run on Cloud Run
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each = var.activate_apis ? toset(local.apis) : toset([])

  project = var.project_id
  service = each.value

  # Other workloads of the project may use these APIs too: never switch them off on destroy.
  disable_on_destroy         = false
  disable_dependent_services = false
}
