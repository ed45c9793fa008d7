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
