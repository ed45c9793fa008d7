# Dashboard and alert policies. The deployq custom metrics are declared here
# (alert policies on a metric that does not exist yet are refused), so the
# writers must match these kinds: GAUGE points on the `global` monitored
# resource, labels organisation / service / environment.

locals {
  metric_prefix = "custom.googleapis.com/deployq"

  custom_metrics = {
    deployment_started          = { value_type = "INT64", unit = "1", description = "A deployment became in_progress (one point of 1 per deployment)." }
    deployment_success          = { value_type = "INT64", unit = "1", description = "A deployment became deployed (one point of 1 per deployment)." }
    deployment_rollback         = { value_type = "INT64", unit = "1", description = "A rollback deployment was created (one point of 1 per rollback)." }
    deployment_duration         = { value_type = "DOUBLE", unit = "s", description = "Seconds from in_progress (else creation) to deployed or failed." }
    canary_rollouts_started     = { value_type = "INT64", unit = "1", description = "A canary rollout started (one point of 1 per rollout)." }
    canary_rollouts_succeeded   = { value_type = "INT64", unit = "1", description = "A canary rollout was promoted (one point of 1 per rollout)." }
    canary_rollouts_rolled_back = { value_type = "INT64", unit = "1", description = "A canary rollout was rolled back (one point of 1 per rollout)." }
    canary_traffic_percent      = { value_type = "INT64", unit = "%", description = "Share of traffic the canary revision receives." }
    canary_duration             = { value_type = "DOUBLE", unit = "s", description = "Seconds from a canary's start to its promotion or rollback." }
  }

  function_service_names = [for name in local.function_names : "${var.name_prefix}${name}"]
  function_service_list  = join(", ", [for name in local.function_service_names : "\"${name}\""])

  notification_channels = concat(var.notification_channels, [for channel in google_monitoring_notification_channel.email : channel.name])

  # Dashboard charts: title, and one data set per line.
  charts = [
    {
      title = "Deployments (per 5 min)"
      lines = [for m in ["deployment_started", "deployment_success", "deployment_rollback"] : {
        filter = "metric.type=\"${local.metric_prefix}/${m}\" resource.type=\"global\""
        align  = "ALIGN_SUM", reduce = "REDUCE_SUM", group_by = [], period = "300s", label = m
      }]
    },
    {
      title = "Deployment duration p50 / p95 (s)"
      lines = [for p in ["50", "95"] : {
        filter = "metric.type=\"${local.metric_prefix}/deployment_duration\" resource.type=\"global\""
        align  = "ALIGN_MEAN", reduce = "REDUCE_PERCENTILE_${p}", group_by = [], period = "300s", label = "p${p}"
      }]
    },
    {
      title = "Canary rollouts (per 5 min)"
      lines = [for m in ["canary_rollouts_started", "canary_rollouts_succeeded", "canary_rollouts_rolled_back"] : {
        filter = "metric.type=\"${local.metric_prefix}/${m}\" resource.type=\"global\""
        align  = "ALIGN_SUM", reduce = "REDUCE_SUM", group_by = [], period = "300s", label = m
      }]
    },
    {
      title = "Canary traffic % by service"
      lines = [{
        filter = "metric.type=\"${local.metric_prefix}/canary_traffic_percent\" resource.type=\"global\""
        align  = "ALIGN_MAX", reduce = "REDUCE_MAX", group_by = ["metric.label.service"], period = "60s", label = "$${metric.labels.service}"
      }]
    },
    {
      title = "Canary duration by service (s)"
      lines = [{
        filter = "metric.type=\"${local.metric_prefix}/canary_duration\" resource.type=\"global\""
        align  = "ALIGN_MEAN", reduce = "REDUCE_MEAN", group_by = ["metric.label.service"], period = "300s", label = "$${metric.labels.service}"
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
      tiles = [for i, chart in local.charts : {
        xPos   = (i % 2) * 6
        yPos   = floor(i / 2) * 4
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
      }]
    }
  }
}

resource "google_monitoring_metric_descriptor" "deployq" {
  for_each = local.custom_metrics

  project      = var.project_id
  type         = "${local.metric_prefix}/${each.key}"
  display_name = "deployq ${replace(each.key, "_", " ")}"
  description  = each.value.description
  metric_kind  = "GAUGE"
  value_type   = each.value.value_type
  unit         = each.value.unit

  labels {
    key         = "organisation"
    value_type  = "STRING"
    description = "GitHub organisation (tenant)."
  }
  labels {
    key         = "service"
    value_type  = "STRING"
    description = "Deployment name, or the Cloud Run service of a canary."
  }
  labels {
    key         = "environment"
    value_type  = "STRING"
    description = "Target environment."
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_dashboard" "deployq" {
  project        = var.project_id
  dashboard_json = jsonencode(local.dashboard)

  depends_on = [google_monitoring_metric_descriptor.deployq]
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
      filter          = "metric.type=\"${local.metric_prefix}/canary_rollouts_rolled_back\" AND resource.type=\"global\""
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

  depends_on = [google_monitoring_metric_descriptor.deployq]
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
