# Cloud Scheduler calls the sweeper (blobsSweep, POST) hourly with an OIDC token of the
# scheduler's own service account, whose only right is to invoke that function. The
# attempt deadline is the function's timeout (1800 s, Cloud Scheduler's maximum for HTTP
# targets), so a long sweep is not retried while it still runs.
locals {
  sweep_route = one([for r in local.functions[local.sweeper].routes : r if contains(r.methods, "POST")])
}

resource "google_cloud_scheduler_job" "sweep" {
  name             = "${var.name_prefix}-blobs-sweep"
  region           = var.region
  description      = "Deletes orphaned blobs (${local.sweeper})."
  schedule         = var.sweep_schedule
  time_zone        = var.sweep_time_zone
  attempt_deadline = "${local.functions[local.sweeper].timeout_seconds}s"

  retry_config {
    retry_count          = 1
    min_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = "${local.function_uri[local.sweeper]}${local.sweep_route.path}"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.function_uri[local.sweeper]
    }
  }

  depends_on = [
    google_project_service.api,
    google_cloud_run_service_iam_member.scheduler_invokes_sweeper,
  ]
}
