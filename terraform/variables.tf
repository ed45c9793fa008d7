# ---------------------------------------------------------------------------
# Where the stack lives
# ---------------------------------------------------------------------------

variable "project_id" {
  description = "Control-plane project: every resource of the stack is created here."
  type        = string

  validation {
    # Domain-scoped ids (example.com:proj) are refused: their function URLs are not predictable.
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id: 6-30 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the functions, the Cloud Tasks queue, the Scheduler jobs and the source bucket (e.g. europe-west1)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, service accounts, queue, topic, jobs). Lets several stacks share a project."
  type        = string
  default     = "deployq-"

  validation {
    # Service account ids are at most 30 characters; the longest suffix is 'events-trigger' (14).
    condition     = can(regex("^([a-z][a-z0-9-]*-)?$", var.name_prefix)) && length(var.name_prefix) <= 16
    error_message = "name_prefix must be empty or lower-case letters, digits and hyphens ending with '-', at most 16 characters."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}

variable "activate_apis" {
  description = "Enable the Google APIs the stack needs (set false when a project factory manages them)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------
# Firestore
# ---------------------------------------------------------------------------

variable "firestore_database" {
  description = "Id of the control-plane Firestore database (native mode) that this stack creates. A named database avoids clashing with an existing (default) one."
  type        = string
  default     = "deployq"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be (default) or 4-63 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "firestore_location" {
  description = "Firestore location (a region such as europe-west1 or a multi-region such as nam5/eur3). Null means var.region."
  type        = string
  default     = null

  validation {
    condition     = var.firestore_location == null || can(regex("^([a-z]+-[a-z]+[0-9]+|nam[0-9]+|eur[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be a region (europe-west1) or a multi-region (nam5, eur3)."
  }
}

variable "firestore_protect" {
  description = "Protect the Firestore database: delete protection on, point-in-time recovery on, and `terraform destroy` leaves it in place (ABANDON)."
  type        = bool
  default     = true
}

variable "firestore_indexes_file" {
  description = "JSON file of composite indexes ({\"indexes\": [{collection_group, query_scope?, fields: [{field_path, order | array_config}]}]}). Null means firestore_indexes.json beside this module."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------
# Function sources
# ---------------------------------------------------------------------------

variable "source_root" {
  description = "Repository root holding functions/<name>/, shared/ and requirements.txt. Null means the folder above this module."
  type        = string
  default     = null
}

variable "function_zips" {
  description = "Pre-built source zips by function name (scripts/build_zips.py writes them). A function not listed is zipped from source_root by archive_file."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.function_zips) : contains(["deployments", "packages", "worker", "canary", "events"], name)])
    error_message = "function_zips keys must be function names: deployments, packages, worker, canary, events."
  }
}

variable "function_settings" {
  description = "Per-function overrides of memory, CPU, timeout, instance counts and request concurrency. Keys are function names."
  type = map(object({
    memory          = optional(string)
    cpu             = optional(string)
    timeout_seconds = optional(number)
    min_instances   = optional(number)
    max_instances   = optional(number)
    concurrency     = optional(number)
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.function_settings) : contains(["deployments", "packages", "worker", "canary", "events"], name)])
    error_message = "function_settings keys must be function names: deployments, packages, worker, canary, events."
  }

  validation {
    condition     = alltrue([for s in values(var.function_settings) : s.memory == null || can(regex("^[0-9]+(M|Mi|G|Gi)$", s.memory))])
    error_message = "function_settings memory must look like 256M, 512Mi or 1Gi."
  }

  validation {
    condition     = alltrue([for s in values(var.function_settings) : coalesce(s.timeout_seconds, 60) >= 1 && coalesce(s.timeout_seconds, 60) <= 3600])
    error_message = "function_settings timeout_seconds must be between 1 and 3600."
  }
}

# ---------------------------------------------------------------------------
# Access
# ---------------------------------------------------------------------------

variable "public_api" {
  description = "Let anyone reach the HTTP APIs (deployments, packages, canary) at the Cloud Run level. They verify GitHub OIDC tokens, PATs and Google ID tokens themselves, and GitHub Actions hold no Google identity that Cloud Run IAM could check. False: callers also need roles/run.invoker."
  type        = bool
  default     = true
}

variable "internal_ingress" {
  description = "Ingress of the internal functions (worker, events). ALLOW_INTERNAL_ONLY admits Cloud Tasks, Cloud Scheduler and Eventarc of the same project; ALLOW_ALL if your setup needs it (IAM still requires run.invoker)."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_ALL"], var.internal_ingress)
    error_message = "internal_ingress must be ALLOW_INTERNAL_ONLY or ALLOW_ALL."
  }
}

variable "invokers" {
  description = "Extra members (user:, group:, serviceAccount:) granted roles/run.invoker on the HTTP APIs; useful when public_api is false."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.invokers : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):", m))])
    error_message = "invokers must be IAM members such as user:alice@example.com or group:ops@example.com."
  }
}

variable "github_oidc_audience" {
  description = "Audience that GitHub Actions OIDC tokens must carry (GITHUB_OIDC_AUDIENCE)."
  type        = string
  default     = "deployment-queue-api"

  validation {
    condition     = length(trimspace(var.github_oidc_audience)) > 0
    error_message = "github_oidc_audience must not be empty."
  }
}

variable "allowed_organisations" {
  description = "GitHub organisations allowed to call the APIs (ALLOWED_ORGANISATIONS). Empty means all."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for org in var.allowed_organisations : can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}$", org))])
    error_message = "allowed_organisations must be GitHub organisation names."
  }
}

variable "org_access" {
  description = "Roles of Google identities per organisation (ORG_ACCESS): {org = {email = role}}, role one of viewer, deployer, approver, admin."
  type        = map(map(string))
  default     = {}

  validation {
    condition = alltrue(flatten([
      for members in values(var.org_access) : [for role in values(members) : contains(["viewer", "deployer", "approver", "admin"], role)]
    ]))
    error_message = "org_access roles must be viewer, deployer, approver or admin."
  }
}

variable "extra_id_token_audiences" {
  description = "Audiences accepted in Google ID tokens besides each function's own URL (GOOGLE_ID_TOKEN_AUDIENCES), e.g. a custom domain."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------
# Data packages and jobs
# ---------------------------------------------------------------------------

variable "environments" {
  description = "Where data packages deploy (ENVIRONMENTS): {env = {project, database}}. packages and worker get roles/datastore.user on exactly these databases."
  type = map(object({
    project  = string
    database = optional(string, "(default)")
  }))
  default = {}

  validation {
    condition     = alltrue([for e in values(var.environments) : can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", e.project))])
    error_message = "environments[*].project must be a project id."
  }

  validation {
    condition     = alltrue([for e in values(var.environments) : e.database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", e.database))])
    error_message = "environments[*].database must be (default) or a Firestore database id."
  }
}

variable "job_deadline_seconds" {
  description = "A processing job with no recorded progress for this long is stuck and the sweep times it out (JOB_DEADLINE_SECONDS)."
  type        = number
  default     = 1800

  validation {
    condition     = var.job_deadline_seconds >= 60 && floor(var.job_deadline_seconds) == var.job_deadline_seconds
    error_message = "job_deadline_seconds must be a whole number of at least 60."
  }
}

variable "tasks_retry" {
  description = "Retry policy of the Cloud Tasks queue: attempts (including the first) and the exponential backoff between them."
  type = object({
    max_attempts  = optional(number, 10)
    min_backoff   = optional(string, "10s")
    max_backoff   = optional(string, "600s")
    max_doublings = optional(number, 5)
  })
  default = {}

  validation {
    condition     = var.tasks_retry.max_attempts >= 1 && var.tasks_retry.max_attempts <= 100
    error_message = "tasks_retry.max_attempts must be between 1 and 100."
  }

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.tasks_retry.min_backoff)) && can(regex("^[0-9]+(\\.[0-9]+)?s$", var.tasks_retry.max_backoff))
    error_message = "tasks_retry backoffs must be durations in seconds such as 10s or 0.5s."
  }
}

variable "tasks_rate_limits" {
  description = "Dispatch limits of the Cloud Tasks queue."
  type = object({
    max_dispatches_per_second = optional(number, 50)
    max_concurrent_dispatches = optional(number, 100)
  })
  default = {}

  validation {
    condition     = var.tasks_rate_limits.max_dispatches_per_second > 0 && var.tasks_rate_limits.max_concurrent_dispatches >= 1
    error_message = "tasks_rate_limits must be positive."
  }
}

# ---------------------------------------------------------------------------
# Canary
# ---------------------------------------------------------------------------

variable "canary_managed_services" {
  description = "Cloud Run services the canary may change. Empty: roles/run.developer on the whole control-plane project. service_account is the service's runtime identity: updating a service needs actAs on it."
  type = list(object({
    project         = string
    region          = string
    service         = string
    service_account = optional(string)
  }))
  default = []

  validation {
    condition = alltrue([
      for s in var.canary_managed_services :
      can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", s.project)) && can(regex("^[a-z]+-[a-z]+[0-9]+$", s.region)) && can(regex("^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$", s.service))
    ])
    error_message = "canary_managed_services entries need a project id, a region and a Cloud Run service name."
  }

  validation {
    condition     = alltrue([for s in var.canary_managed_services : s.service_account == null || can(regex("^[^@\\s]+@[^@\\s]+\\.gserviceaccount\\.com$", s.service_account))])
    error_message = "canary_managed_services[*].service_account must be a service account e-mail."
  }
}

# ---------------------------------------------------------------------------
# Scheduler
# ---------------------------------------------------------------------------

variable "schedules" {
  description = "Cron schedules (UTC) of the sweeps: canary checks, stuck jobs, unpublished events."
  type = object({
    canary_sweep = optional(string, "* * * * *")
    jobs_sweep   = optional(string, "*/5 * * * *")
    events_sweep = optional(string, "*/5 * * * *")
  })
  default = {}

  validation {
    condition     = alltrue([for s in values(var.schedules) : length(split(" ", trimspace(s))) == 5])
    error_message = "schedules must be five-field cron expressions."
  }
}

# ---------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------

variable "notification_channels" {
  description = "Existing notification channels (projects/P/notificationChannels/N) that every alert policy notifies."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "notification_channels must be full names projects/P/notificationChannels/N."
  }
}

variable "alert_emails" {
  description = "E-mail addresses to create notification channels for; every alert policy notifies them."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be e-mail addresses."
  }
}

variable "alert_thresholds" {
  description = "Alert thresholds: 5xx answers per function and worker failures in 5 minutes, Cloud Tasks queue depth held for 10 minutes."
  type = object({
    function_5xx_per_5m = optional(number, 5)
    job_failures_per_5m = optional(number, 3)
    queue_depth         = optional(number, 500)
  })
  default = {}

  validation {
    condition     = alltrue([for v in values(var.alert_thresholds) : v >= 0])
    error_message = "alert_thresholds must not be negative."
  }
}

# ---------------------------------------------------------------------------
# Console (docs/console.md)
# ---------------------------------------------------------------------------

variable "console_enabled" {
  description = "Deploy the console function (its assets must be built first: make init)."
  type        = bool
  default     = true
}

variable "console_oauth_client_id" {
  description = "OAuth client id (Web application) of the console's Google sign-in; the API functions accept it as an ID-token audience. Empty: the console cannot sign anyone in."
  type        = string
  default     = ""
}

variable "console_organisations" {
  description = "Organisation names the console's picker offers."
  type        = list(string)
  default     = []
}
