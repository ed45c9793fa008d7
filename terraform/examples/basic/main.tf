# The whole deployq stack in one project, with the defaults:
#   terraform init && terraform apply -var project_id=my-project -var region=europe-west1

provider "google" {
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

  # Where data packages deploy; packages and worker get access to these databases
  # only. The databases themselves are not created by the stack.
  environments = {
    staging = { project = var.project_id, database = "staging" }
  }
}
