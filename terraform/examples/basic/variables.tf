variable "project_id" {
  description = "Project to deploy deployq into."
  type        = string
}

variable "region" {
  description = "Region of the functions, queue and jobs."
  type        = string
  default     = "europe-west1"
}

variable "allowed_organisations" {
  description = "GitHub organisations allowed to call the API (empty = all)."
  type        = list(string)
  default     = []
}

variable "org_access" {
  description = "Roles of Google identities per organisation: {org = {email = role}}."
  type        = map(map(string))
  default     = {}
}

variable "alert_emails" {
  description = "Where alerts are e-mailed."
  type        = list(string)
  default     = []
}

variable "platform_admins" {
  description = "E-mails of the people who manage organisation records through the API."
  type        = list(string)
  default     = []
}

variable "organisations" {
  description = "Organisation records and their grants (see the module's organisations variable)."
  type        = any
  default = {
    acme = {
      environments = {
        staging = { project = "acme-staging-123", database = "staging" }
      }
      cloud_run_services = ["projects/acme-staging-123/locations/europe-west1/services/api"]
      cloud_run_service_accounts = {
        "projects/acme-staging-123/locations/europe-west1/services/api" = ["api-runtime@acme-staging-123.iam.gserviceaccount.com"]
      }
      members      = [{ email = "lead@acme.example", github_login = "acme-lead", role = "admin" }]
      github_rules = [{ repository = "acme/*", ref = "refs/heads/main", role = "deployer" }]
    }
  }
}
