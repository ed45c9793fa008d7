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
# Organisations (contract/organisations.md)
# ---------------------------------------------------------------------------

variable "platform_admins" {
  description = "E-mails of the Google identities that manage organisation records through the API (PLATFORM_ADMINS)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.platform_admins : can(regex("^[^@\\s,]+@[^@\\s,]+\\.[^@\\s,]+$", e))])
    error_message = "platform_admins must be e-mail addresses."
  }
}

variable "organisations" {
  description = <<-EOT
    Organisation records written to Firestore organisations/{org} (contract/organisations.md item 1), and
    the IAM derived from them: packages and worker get roles/datastore.user on each environment's database
    (IAM condition on that database), the canary account roles/run.developer on each granted Cloud Run
    service (on the service's project for a pattern ending in *), monitoring.viewer on those projects and
    actAs (roles/iam.serviceAccountUser) on each service's runtime account from cloud_run_service_accounts.
    Keys are lower-case GitHub organisation names. An empty map grants nothing. The next apply overwrites
    changes made through the API to an organisation listed here.
  EOT
  type = map(object({
    environments = optional(map(object({
      project  = string
      database = optional(string, "(default)")
    })), {})
    # projects/P/locations/L/services/S, S may end with *.
    cloud_run_services = optional(list(string), [])
    # Runtime service account(s) of each entry of cloud_run_services (pattern => e-mails): Cloud Run
    # refuses to update a service for a caller without actAs on the service's identity.
    cloud_run_service_accounts = optional(map(list(string)), {})
    members = optional(list(object({
      email        = optional(string)
      github_login = optional(string)
      role         = string
    })), [])
    github_rules = optional(list(object({
      repository  = string
      ref         = string
      environment = optional(string)
      role        = string
    })), [])
    # repository_owner_id of the GitHub owner (digits as text); null: pinned by the first token.
    github_owner_id = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for org in keys(var.organisations) : can(regex("^[a-z0-9][a-z0-9-]{0,38}$", org))])
    error_message = "organisations keys must be GitHub organisation names in lower case."
  }

  validation {
    condition = alltrue(flatten([
      for org in values(var.organisations) : [for env in keys(org.environments) : can(regex("^[a-z][a-z0-9-]{0,62}$", env))]
    ]))
    error_message = "organisations[*].environments names must match [a-z][a-z0-9-]{0,62}."
  }

  validation {
    condition = alltrue(flatten([
      for org in values(var.organisations) : [
        for env in values(org.environments) :
        can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", env.project)) && (env.database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", env.database)))
      ]
    ]))
    error_message = "organisations[*].environments need a project id and a Firestore database id ((default) or 4-63 lower-case letters, digits or hyphens)."
  }

  validation {
    condition = alltrue(flatten([
      for org in values(var.organisations) : [
        for pattern in org.cloud_run_services :
        can(regex("^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z]+-[a-z]+[0-9]+/services/([a-z]([a-z0-9-]{0,47}[a-z0-9])?|[a-z][a-z0-9-]{0,47}\\*|\\*)$", pattern))
      ]
    ]))
    error_message = "organisations[*].cloud_run_services must be projects/P/locations/L/services/S, where S is a service name or a prefix ending with * (no other wildcard)."
  }

  validation {
    condition = alltrue([
      for org in values(var.organisations) :
      length(setsubtract(keys(org.cloud_run_service_accounts), org.cloud_run_services)) == 0
      && length(setsubtract(org.cloud_run_services, keys(org.cloud_run_service_accounts))) == 0
    ])
    error_message = "organisations[*].cloud_run_service_accounts must name the runtime service account(s) of every entry of cloud_run_services, and nothing else: the canary needs actAs on them to move traffic."
  }

  validation {
    condition = alltrue(flatten([
      for org in values(var.organisations) : [
        for accounts in values(org.cloud_run_service_accounts) : length(accounts) > 0 && alltrue([
          for email in accounts : can(regex("^[^@\\s]+@[^@\\s]+\\.gserviceaccount\\.com$", email))
        ])
      ]
    ]))
    error_message = "organisations[*].cloud_run_service_accounts values must be non-empty lists of service account e-mails."
  }

  validation {
    condition = alltrue(flatten([
      for org in values(var.organisations) : [
        for m in org.members :
        contains(["viewer", "deployer", "approver", "admin"], m.role) && (m.email != null || m.github_login != null)
      ]
    ]))
    error_message = "organisations[*].members need an email or a github_login, and a role among viewer, deployer, approver, admin."
  }

  validation {
    condition = alltrue([
      for org in values(var.organisations) :
      length(compact([for m in org.members : m.email == null ? "" : "email:${lower(m.email)}"])) == length(distinct(compact([for m in org.members : m.email == null ? "" : "email:${lower(m.email)}"])))
      && length(compact([for m in org.members : m.github_login == null ? "" : "login:${lower(m.github_login)}"])) == length(distinct(compact([for m in org.members : m.github_login == null ? "" : "login:${lower(m.github_login)}"])))
    ])
    error_message = "organisations[*].members: an e-mail or GitHub login appears in one entry only."
  }

  validation {
    condition = alltrue(flatten([
      for org in values(var.organisations) : [
        for r in org.github_rules :
        contains(["viewer", "deployer", "approver", "admin"], r.role) && length(trimspace(r.repository)) > 0 && length(trimspace(r.ref)) > 0
      ]
    ]))
    error_message = "organisations[*].github_rules need a repository glob, a ref glob and a role among viewer, deployer, approver, admin."
  }

  validation {
    condition     = alltrue([for org in values(var.organisations) : org.github_owner_id == null || can(regex("^[0-9]+$", org.github_owner_id))])
    error_message = "organisations[*].github_owner_id must be the repository_owner_id claim: digits as text."
  }
}

# ---------------------------------------------------------------------------
# Data packages and jobs
# ---------------------------------------------------------------------------

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
