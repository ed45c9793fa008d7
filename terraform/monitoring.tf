# Dashboard and alert policies, over log-based metrics that count the events
# function's structured log lines exactly (one line per counted event), plus
# Cloud Run's and Cloud Tasks' own metrics.
#
# Why log-based: custom GAUGE points written per event break Cloud Monitoring's
# one-point-per-5-seconds-per-series rule when several events share labels, and
# the refused writes are lost. A log-based counter counts every matching entry
# and a distribution metric keeps every duration for real percentiles.
# https://cloud.google.com/logging/docs/logs-based-metrics
# https://cloud.google.com/logging/docs/logs-based-metrics/distribution-metrics
# https://cloud.google.com/monitoring/quotas#custom_metrics_quotas
#
# The log lines (written by functions/events; docs/deploy.md has the same spec):
# one JSON object per line on stdout, with
#   "metric": one of the keys of local.log_counters / local.log_distributions,
#   "event_type", "event_id": the deployq event it counts,
#   "organisation", "service", "environment": the labels (text, "" when unknown),
#   "duration_seconds": number, on deployment_duration and canary_duration lines,
#   "traffic_percent": number, on canary_traffic_percent lines.

locals {
  # logging.googleapis.com/user/<name>: one name per stack (name_prefix), so two stacks never share one.
  log_metric_prefix = "logging.googleapis.com/user/${var.name_prefix}"

  # Which log entries are metric lines: the events function's stdout (Cloud Functions gen2 log
  # as their Cloud Run service) carrying a "metric" field.
  # https://cloud.google.com/run/docs/logging#container-logs
  metric_log_filter = join("\n", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.name_prefix}events\"",
    "log_id(\"run.googleapis.com/stdout\")",
  ])

  log_counters = {
    deployment_started          = "A deployment became in_progress."
    deployment_success          = "A deployment became deployed."
    deployment_rollback         = "A rollback deployment was created."
    canary_rollouts_started     = "A canary rollout started."
    canary_rollouts_succeeded   = "A canary rollout was promoted."
    canary_rollouts_rolled_back = "A canary rollout was rolled back or aborted."
  }

  log_distributions = {
    deployment_duration = {
      field       = "duration_seconds"
      unit        = "s"
      description = "Seconds from in_progress (else creation) to deployed or failed."
      # 1 s .. ~1.9e7 s in 64 buckets growing 30% each: a percentile is off by less than 30%.
      exponential = { num_finite_buckets = 64, growth_factor = 1.3, scale = 1 }
      linear      = null
    }
    canary_duration = {
      field       = "duration_seconds"
      unit        = "s"
      description = "Seconds from a canary's start to its promotion or rollback."
      exponential = { num_finite_buckets = 64, growth_factor = 1.3, scale = 1 }
      linear      = null
    }
    canary_traffic_percent = {
      field       = "traffic_percent"
      unit        = "%"
      description = "Share of traffic given to a canary revision, one value per traffic change."
      exponential = null
      # 0, 5, ... 100 (and a bucket above).
      linear = { num_finite_buckets = 21, width = 5, offset = 0 }
    }
  }

  metric_labels = {
    organisation = "GitHub organisation (tenant)."
    service      = "Deployment name, or the Cloud Run service of a canary."
    environment  = "Target environment."
  }

  log_metric_types       = { for m in concat(keys(local.log_counters), keys(local.log_distributions)) : m => "${local.log_metric_prefix}${m}" }
  function_service_names = [for name in local.function_names : "${var.name_prefix}${name}"]
  function_service_list  = join(", ", [for name in local.function_service_names : "\"${name}\""])

  notification_channels = concat(var.notification_channels, [for channel in google_monitoring_notification_channel.email : channel.name])

  # Dashboard charts: title, and one data set per line.
  charts = [
    {
      title = "Deployments (per 5 min)"
      lines = [for m in ["deployment_started", "deployment_success", "deployment_rollback"] : {
        filter = "metric.type=\"${local.log_metric_types[m]}\" resource.type=\"cloud_run_revision\""
        align  = "ALIGN_SUM", reduce = "REDUCE_SUM", group_by = [], period = "300s", label = m
      }]
    },
    {
      # Percentiles of the merged distribution of every duration in the period (not a mean of means).
      title = "Deployment duration p50 / p95 (s)"
      lines = [for p in ["50", "95"] : {
        filter = "metric.type=\"${local.log_metric_types["deployment_duration"]}\" resource.type=\"cloud_run_revision\""
        align  = "ALIGN_DELTA", reduce = "REDUCE_PERCENTILE_${p}", group_by = [], period = "3600s", label = "p${p}"
      }]
    },
    {
      title = "Canary rollouts (per 5 min)"
      lines = [for m in ["canary_rollouts_started", "canary_rollouts_succeeded", "canary_rollouts_rolled_back"] : {
        filter = "metric.type=\"${local.log_metric_types[m]}\" resource.type=\"cloud_run_revision\""
        align  = "ALIGN_SUM", reduce = "REDUCE_SUM", group_by = [], period = "300s", label = m
      }]
    },
    {
      title = "Canary traffic % by service"
      lines = [{
        filter = "metric.type=\"${local.log_metric_types["canary_traffic_percent"]}\" resource.type=\"cloud_run_revision\""
        align  = "ALIGN_PERCENTILE_99", reduce = "REDUCE_MAX", group_by = ["metric.label.service"], period = "60s", label = "$${metric.labels.service}"
      }]
    },
    {
      title = "Canary duration p95 by service (s)"
      lines = [{
        filter = "metric.type=\"${local.log_metric_types["canary_duration"]}\" resource.type=\"cloud_run_revision\""
        align  = "ALIGN_DELTA", reduce = "REDUCE_PERCENTILE_95", group_by = ["metric.label.service"], period = "3600s", label = "$${metric.labels.service}"
      }]
    },
    {
      title = "Cloud Run 5xx per second by revision"
      lines = [{
        filter = "metric.type=\"run.googleapis.com/request_count\" resource.type=\"cloud_run_revision\" metric.label.response_code_class=\"5xx\""
        align  = "ALIGN_RATE", reduce = "REDUCE_SUM", group_by = ["resource.label.service_name", "resource.label.revision_name"], period = "60s", label = "$${resource.labels.service_name} $${resource.labels.revision_name}"
      }]
    },
    {
      title = "Cloud Run latency p99 by revision (ms)"
      lines = [{
        filter = "metric.type=\"run.googleapis.com/request_latencies\" resource.type=\"cloud_run_revision\""
        align  = "ALIGN_DELTA", reduce = "REDUCE_PERCENTILE_99", group_by = ["resource.label.service_name", "resource.label.revision_name"], period = "60s", label = "$${resource.labels.service_name} $${resource.labels.revision_name}"
      }]
    },
    {
      title = "Cloud Tasks queue depth"
      lines = [{
        filter = "metric.type=\"cloudtasks.googleapis.com/queue/depth\" resource.type=\"cloud_tasks_queue\" resource.label.queue_id=\"${google_cloud_tasks_queue.jobs.name}\""
        align  = "ALIGN_MAX", reduce = "REDUCE_MAX", group_by = [], period = "60s", label = "depth"
      }]
    },
  ]

  dashboard = {
    displayName = "deployq: ${var.name_prefix}* in ${var.region}"
    mosaicLayout = {
      columns = 12
      # The API leaves out zero-valued fields (xPos/yPos of the first column and row); writing
      # them would show a diff on every plan, so they are left out here too.
      # https://cloud.google.com/monitoring/api/ref_v3/rest/v1/projects.dashboards#MosaicLayout
      tiles = [for i, chart in local.charts : merge(
        { for key, value in { xPos = (i % 2) * 6, yPos = floor(i / 2) * 4 } : key => value if value != 0 },
        {
          width  = 6
          height = 4
          widget = {
            title = chart.title
            xyChart = {
              dataSets = [for line in chart.lines : {
                plotType           = "LINE"
                legendTemplate     = line.label
                minAlignmentPeriod = line.period
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = line.filter
                    # Empty groupByFields are left out: the API drops them and Terraform would plan a diff forever.
                    aggregation = merge(
                      { alignmentPeriod = line.period, perSeriesAligner = line.align, crossSeriesReducer = line.reduce },
                      length(line.group_by) > 0 ? { groupByFields = line.group_by } : {},
                    )
                  }
                }
              }]
              yAxis = { scale = "LINEAR" }
            }
          }
      })]
    }
  }
}

# Counters: each matching log line counts 1, labelled from its JSON fields.
# https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/logging_metric
resource "google_logging_metric" "counter" {
  for_each = local.log_counters

  project     = var.project_id
  name        = "${var.name_prefix}${each.key}"
  description = "deployq: ${each.value}"
  filter      = "${local.metric_log_filter}\njsonPayload.metric=\"${each.key}\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "deployq ${replace(each.key, "_", " ")}"

    dynamic "labels" {
      for_each = local.metric_labels
      content {
        key         = labels.key
        value_type  = "STRING"
        description = labels.value
      }
    }
  }

  label_extractors = { for label in keys(local.metric_labels) : label => "EXTRACT(jsonPayload.${label})" }

  depends_on = [google_project_service.apis]
}

# Distributions: each matching line adds its value, so charts and alerts get real percentiles.
resource "google_logging_metric" "distribution" {
  for_each = local.log_distributions

  project         = var.project_id
  name            = "${var.name_prefix}${each.key}"
  description     = "deployq: ${each.value.description}"
  filter          = "${local.metric_log_filter}\njsonPayload.metric=\"${each.key}\""
  value_extractor = "EXTRACT(jsonPayload.${each.value.field})"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = each.value.unit
    display_name = "deployq ${replace(each.key, "_", " ")}"

    dynamic "labels" {
      for_each = local.metric_labels
      content {
        key         = labels.key
        value_type  = "STRING"
        description = labels.value
      }
    }
  }

  label_extractors = { for label in keys(local.metric_labels) : label => "EXTRACT(jsonPayload.${label})" }

  bucket_options {
    dynamic "exponential_buckets" {
      for_each = each.value.exponential == null ? [] : [each.value.exponential]
      content {
        num_finite_buckets = exponential_buckets.value.num_finite_buckets
        growth_factor      = exponential_buckets.value.growth_factor
        scale              = exponential_buckets.value.scale
      }
    }

    dynamic "linear_buckets" {
      for_each = each.value.linear == null ? [] : [each.value.linear]
      content {
        num_finite_buckets = linear_buckets.value.num_finite_buckets
        width              = linear_buckets.value.width
        offset             = linear_buckets.value.offset
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_dashboard" "deployq" {
  project        = var.project_id
  dashboard_json = jsonencode(local.dashboard)

  depends_on = [google_logging_metric.counter, google_logging_metric.distribution]
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  project      = var.project_id
  display_name = "deployq alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "canary_rolled_back" {
  project      = var.project_id
  display_name = "deployq: canary rolled back"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "A canary rollout was rolled back"
    condition_threshold {
      # Every rollback line counts: the sum over 5 minutes is the number of rollbacks.
      filter          = "metric.type=\"${local.log_metric_types["canary_rollouts_rolled_back"]}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.organisation", "metric.label.service", "metric.label.environment"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "deployq rolled a canary back (a threshold was broken or it never reached min_requests). `GET /v1/canaries?status=rolled_back` on the canary API shows each check and the reason; the linked deployment is marked failed."
  }

  alert_strategy {
    auto_close = "3600s"
  }

  notification_channels = local.notification_channels
  user_labels           = local.labels

  # An alert policy on a metric that does not exist yet is refused.
  depends_on = [google_logging_metric.counter]
}

resource "google_monitoring_alert_policy" "jobs" {
  project      = var.project_id
  display_name = "deployq: job failures or queue backlog"
  combiner     = "OR"
  severity     = "ERROR"

  # The worker answers 5xx when a job attempt fails, so Cloud Tasks retries it.
  conditions {
    display_name = "Worker job attempts failing"
    condition_threshold {
      filter          = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"${var.name_prefix}worker\" AND metric.label.response_code_class=\"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.job_failures_per_5m
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "Cloud Tasks queue depth high"
    condition_threshold {
      filter          = "metric.type=\"cloudtasks.googleapis.com/queue/depth\" AND resource.type=\"cloud_tasks_queue\" AND resource.label.queue_id=\"${google_cloud_tasks_queue.jobs.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.queue_depth
      duration        = "600s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Jobs are failing (worker 5xx) or piling up in the ${google_cloud_tasks_queue.jobs.name} queue. Check the worker's logs and `GET /v1/jobs/{id}` on the packages API; the jobs sweep times out jobs stuck past JOB_DEADLINE_SECONDS."
  }

  alert_strategy {
    auto_close = "3600s"
  }

  notification_channels = local.notification_channels
  user_labels           = local.labels
}

resource "google_monitoring_alert_policy" "function_5xx" {
  project      = var.project_id
  display_name = "deployq: function 5xx"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "A deployq function answers 5xx"
    condition_threshold {
      filter          = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=one_of(${local.function_service_list}) AND metric.label.response_code_class=\"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.function_5xx_per_5m
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A deployq function answered 5xx more than ${var.alert_thresholds.function_5xx_per_5m} times in 5 minutes. deployq never answers 500 to bad input, so this is a bug or an outage of Firestore, Pub/Sub or Cloud Tasks: read the function's logs (severity>=ERROR)."
  }

  alert_strategy {
    auto_close = "3600s"
  }

  notification_channels = local.notification_channels
  user_labels           = local.labels
}
