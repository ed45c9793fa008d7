# The whole deployq stack in one project, with the defaults:
#   terraform init && terraform apply -var project_id=my-project -var region=europe-west1

provider "google" {
  project = var.project_id
  region  = var.region
}

# The module creates the Eventarc and Pub/Sub service identities with google-beta.
provider "google-beta" {
  project = var.project_id
  region  = var.region
}

module "deployq" {
  source = "../.."

  project_id            = var.project_id
  region                = var.region
  allowed_organisations = var.allowed_organisations
  org_access            = var.org_access
  alert_emails          = var.alert_emails
  platform_admins       = var.platform_admins

  # Organisation records, and the only environments and Cloud Run services the
  # stack may touch: packages and worker get access to these databases, the canary
  # to these services. The databases and services themselves are not created here.
  organisations = var.organisations
}
