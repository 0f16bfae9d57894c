# Alerts and the fleet dashboard, from the metrics the functions export (shared/telemetry/
# meters.ts) and Cloud Run's own. The functions export through the Cloud Monitoring exporter
# (otel_metrics_exporter = "gcp", the default): an instrument `x.y` becomes the metric type
# custom.googleapis.com/x.y, its attributes become labels with dots turned into underscores
# (http.route -> http_route), and each function instance writes its own generic_task series.
# Each policy's documentation links its runbook in docs/operating.md (Alerts and runbooks).
# test/infra/monitoring.test.ts checks that every metric named here is one the code exports.
locals {
  # The metric types the alerts and the dashboard read (custom.*: from the code's meters).
  monitoring_metrics = {
    boot_script_requests = "custom.googleapis.com/netboot.boot_script.requests"
    boot_reports         = "custom.googleapis.com/netboot.boot.reports"
    upload_sessions      = "custom.googleapis.com/netboot.upload_sessions"
    rate_limit_refusals  = "custom.googleapis.com/netboot.rate_limit.refusals"
    request_duration     = "custom.googleapis.com/http.server.request.duration"
    instance_count       = "run.googleapis.com/container/instance_count"
  }
  custom_series = "resource.type=\"generic_task\""

  # The descriptors of the custom metrics read here, declared so the policies can be created
  # before any function has exported a point: Cloud Monitoring refuses a policy on a metric
  # type it does not know ("404: Cannot find metric(s) that match type", e.g.
  # github.com/hashicorp/terraform-provider-google/issues/11102). Kind and value type are what
  # the exporter writes (a counter: CUMULATIVE DOUBLE; a histogram: CUMULATIVE DISTRIBUTION),
  # labels every attribute the code records (test/infra/monitoring.test.ts checks both).
  custom_metric_descriptors = {
    "netboot.boot_script.requests" = { value_type = "DOUBLE", unit = "", labels = ["outcome"], description = "Boot script requests by outcome." }
    "netboot.boot.reports"         = { value_type = "DOUBLE", unit = "", labels = ["phase", "outcome"], description = "Boot reports (a served script saying it is about to boot), by phase and outcome." }
    "netboot.upload_sessions"      = { value_type = "DOUBLE", unit = "", labels = ["outcome"], description = "Upload sessions by outcome." }
    "netboot.rate_limit.refusals"  = { value_type = "DOUBLE", unit = "", labels = ["scope"], description = "Requests refused by a rate limit, by scope." }
    "netboot.asset.sent"           = { value_type = "DOUBLE", unit = "By", labels = ["kind", "delivery"], description = "Kernel and initrd bytes streamed through the function, by kind and delivery." }
    "netboot.asset.redirects"      = { value_type = "DOUBLE", unit = "", labels = ["kind"], description = "Asset requests answered with a redirect to a signed Storage URL." }
    "http.server.request.duration" = { value_type = "DISTRIBUTION", unit = "s", labels = ["http_request_method", "http_response_status_code", "http_route", "error_type"], description = "Duration of HTTP server requests." }
  }

  notification_channels = concat(
    var.alert_notification_channels,
    google_monitoring_notification_channel.email[*].id,
  )
  # Where the runbooks are read: the operator's published copy of docs/operating.md if given.
  runbook_base = var.runbook_url == null ? "docs/operating.md" : var.runbook_url
  runbook      = "${local.runbook_base}#alerts-and-runbooks"

  # Functions watched for instance saturation: those of the audiences named (boot by default).
  saturation_functions = {
    for name, f in local.functions : name => f if contains(var.alert_saturation_audiences, f.audience)
  }
}

resource "google_monitoring_metric_descriptor" "custom" {
  for_each = local.custom_metric_descriptors

  type         = "custom.googleapis.com/${each.key}"
  display_name = each.key
  description  = each.value.description
  metric_kind  = "CUMULATIVE"
  value_type   = each.value.value_type
  unit         = each.value.unit == "" ? null : each.value.unit

  dynamic "labels" {
    for_each = each.value.labels
    content {
      key        = labels.value
      value_type = "STRING"
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == null ? 0 : 1

  display_name = "netboot alerts (${var.name_prefix})"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }
  user_labels = var.labels

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "boot_script_errors" {
  display_name          = "${var.name_prefix}: boot script server errors"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.notification_channels
  user_labels           = var.labels

  # After the descriptors, and after the functions (minutes of build), so a new descriptor has
  # had time to become visible to the alerting API.
  depends_on = [google_monitoring_metric_descriptor.custom, google_cloudfunctions2_function.fn]

  conditions {
    display_name = "Share of boot script requests answered 5xx"
    condition_threshold {
      filter             = "metric.type=\"${local.monitoring_metrics.boot_script_requests}\" AND ${local.custom_series} AND metric.label.outcome=\"error\""
      denominator_filter = "metric.type=\"${local.monitoring_metrics.boot_script_requests}\" AND ${local.custom_series}"
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_boot_script_error_ratio
      duration           = "300s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
    }
  }

  documentation {
    subject   = "netboot: boot scripts are failing with server errors"
    content   = "More than ${var.alert_boot_script_error_ratio * 100}% of boot script requests answered 5xx over 5 minutes: machines that PXE boot now get no script. Runbook: ${local.runbook} (Boot script server errors)."
    mime_type = "text/markdown"
    dynamic "links" {
      for_each = var.runbook_url == null ? [] : [var.runbook_url]
      content {
        display_name = "Runbook: boot script server errors"
        url          = "${links.value}#boot-script-server-errors"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "boots_stop_before_booting" {
  display_name          = "${var.name_prefix}: boots stop before booting"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels
  user_labels           = var.labels

  depends_on = [google_monitoring_metric_descriptor.custom, google_cloudfunctions2_function.fn]

  conditions {
    display_name = "Booting reports per served boot script"
    condition_threshold {
      filter             = "metric.type=\"${local.monitoring_metrics.boot_reports}\" AND ${local.custom_series} AND metric.label.phase=\"booting\" AND metric.label.outcome=\"accepted\""
      denominator_filter = "metric.type=\"${local.monitoring_metrics.boot_script_requests}\" AND ${local.custom_series} AND metric.label.outcome=\"served\""
      comparison         = "COMPARISON_LT"
      threshold_value    = var.alert_boot_completion_min_ratio
      duration           = "900s"
      aggregations {
        alignment_period     = "1800s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "1800s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
    }
  }

  documentation {
    subject   = "netboot: served boot scripts do not reach booting"
    content   = "Fewer than ${var.alert_boot_completion_min_ratio * 100}% of the boot scripts served over 30 minutes were followed by the script's booting report: machines fetch a script but stop before the kernel starts (kernel or initrd download, a script error, a report refused). Runbook: ${local.runbook} (Boots that stop before booting)."
    mime_type = "text/markdown"
    dynamic "links" {
      for_each = var.runbook_url == null ? [] : [var.runbook_url]
      content {
        display_name = "Runbook: boots that stop before booting"
        url          = "${links.value}#boots-that-stop-before-booting"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "upload_mismatches" {
  display_name          = "${var.name_prefix}: upload verification mismatches"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels
  user_labels           = var.labels

  depends_on = [google_monitoring_metric_descriptor.custom, google_cloudfunctions2_function.fn]

  conditions {
    display_name = "Upload sessions finalized with a size or SHA-256 mismatch"
    condition_threshold {
      filter          = "metric.type=\"${local.monitoring_metrics.upload_sessions}\" AND ${local.custom_series} AND metric.label.outcome=\"mismatch\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_upload_mismatches
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
    }
  }

  documentation {
    subject   = "netboot: uploaded kernels or initrds failed verification"
    content   = "More than ${var.alert_upload_mismatches} upload session(s) in 10 minutes ended in a mismatch: the bytes in Storage did not have the size or SHA-256 the client declared, and the profile was not changed. Runbook: ${local.runbook} (Upload verification mismatches)."
    mime_type = "text/markdown"
    dynamic "links" {
      for_each = var.runbook_url == null ? [] : [var.runbook_url]
      content {
        display_name = "Runbook: upload verification mismatches"
        url          = "${links.value}#upload-verification-mismatches"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "rate_limit_refusals" {
  display_name          = "${var.name_prefix}: sustained rate-limit refusals"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels
  user_labels           = var.labels

  depends_on = [google_monitoring_metric_descriptor.custom, google_cloudfunctions2_function.fn]

  conditions {
    display_name = "Rate-limit refusals per second, by scope, for 15 minutes"
    condition_threshold {
      filter          = "metric.type=\"${local.monitoring_metrics.rate_limit_refusals}\" AND ${local.custom_series}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_rate_limit_refusals_per_second
      duration        = "900s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.scope"]
      }
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
    }
  }

  documentation {
    subject   = "netboot: requests refused by a rate limit for 15 minutes"
    content   = "More than ${var.alert_rate_limit_refusals_per_second} request(s) per second have been refused by one rate-limit scope (the label scope) for 15 minutes: a boot loop, a flood, or a limit too low for the fleet. Runbook: ${local.runbook} (Sustained rate-limit refusals)."
    mime_type = "text/markdown"
    dynamic "links" {
      for_each = var.runbook_url == null ? [] : [var.runbook_url]
      content {
        display_name = "Runbook: sustained rate-limit refusals"
        url          = "${links.value}#sustained-rate-limit-refusals"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "boot_script_latency" {
  display_name          = "${var.name_prefix}: boot script p95 latency"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels
  user_labels           = var.labels

  depends_on = [google_monitoring_metric_descriptor.custom, google_cloudfunctions2_function.fn]

  conditions {
    display_name = "p95 duration of GET /boot.ipxe"
    condition_threshold {
      filter          = "metric.type=\"${local.monitoring_metrics.request_duration}\" AND ${local.custom_series} AND metric.label.http_route=\"/boot.ipxe\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_boot_script_p95_seconds
      duration        = "600s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_95"
      }
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
    }
  }

  documentation {
    subject   = "netboot: boot scripts are slow"
    content   = "The 95th percentile of the boot script's duration has been above ${var.alert_boot_script_p95_seconds} s for 10 minutes (measured in the function: Google's front ends add their own time). Runbook: ${local.runbook} (Boot script p95 latency)."
    mime_type = "text/markdown"
    dynamic "links" {
      for_each = var.runbook_url == null ? [] : [var.runbook_url]
      content {
        display_name = "Runbook: boot script p95 latency"
        url          = "${links.value}#boot-script-p95-latency"
      }
    }
  }
}

# One policy per watched function: each has its own max_instance_count (functions.json), and
# Cloud Run exports the instance count but not the limit, so the threshold is per function.
resource "google_monitoring_alert_policy" "instance_saturation" {
  for_each = local.saturation_functions

  display_name          = "${var.name_prefix}: ${each.value.name} near its instance limit"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels
  user_labels           = var.labels

  depends_on = [google_monitoring_metric_descriptor.custom, google_cloudfunctions2_function.fn]

  conditions {
    display_name = "Instances of ${each.value.name} at ${var.alert_saturation_fraction * 100}% of ${each.value.max_instances}"
    condition_threshold {
      filter          = "metric.type=\"${local.monitoring_metrics.instance_count}\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"${local.run_service[each.key]}\""
      comparison      = "COMPARISON_GE"
      threshold_value = ceil(each.value.max_instances * var.alert_saturation_fraction)
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
    }
  }

  documentation {
    subject   = "netboot: ${each.value.name} is near its instance limit"
    content   = "${each.value.name} has run at least ${ceil(each.value.max_instances * var.alert_saturation_fraction)} of its ${each.value.max_instances} instances for 5 minutes; at the limit, Cloud Run queues and then refuses requests with 429. Runbook: ${local.runbook} (Function instance saturation)."
    mime_type = "text/markdown"
    dynamic "links" {
      for_each = var.runbook_url == null ? [] : [var.runbook_url]
      content {
        display_name = "Runbook: function instance saturation"
        url          = "${links.value}#function-instance-saturation"
      }
    }
  }
}

# The dashboard's JSON is Cloud Monitoring's own (dashboards.create); its legends use the
# API's ${metric.labels.x} templates, so the one deployment value, the name prefix, is put in
# by replace() rather than templatefile().
resource "google_monitoring_dashboard" "fleet" {
  dashboard_json = replace(file("${path.module}/dashboards/fleet.json"), "$${name_prefix}", var.name_prefix)

  depends_on = [google_monitoring_metric_descriptor.custom]
}
