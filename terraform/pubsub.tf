# deployq-events: every state change is published here (CloudEvents) and the
# events function consumes it through an Eventarc Pub/Sub trigger (functions.tf).

resource "google_pubsub_topic" "events" {
  #checkov:skip=CKV_GCP_83:Events carry deployment metadata already stored in Firestore under Google-managed encryption; CMEK adds a KMS dependency to every publish for no new protection.
  project = var.project_id
  name    = "${var.name_prefix}events"
  labels  = local.labels

  # Undelivered events stay a week; the Firestore outbox (events sweep) covers longer outages.
  message_retention_duration = "604800s"

  depends_on = [google_project_service.apis]
}
