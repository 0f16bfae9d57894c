# Google APIs the deployment uses. Never disabled on destroy: other workloads of the
# project may use them too.
locals {
  apis = toset(concat(
    [
      "apigateway.googleapis.com",
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudfunctions.googleapis.com",
      "cloudscheduler.googleapis.com",
      "cloudtrace.googleapis.com",
      "firestore.googleapis.com",
      "iam.googleapis.com",
      # V4 signed URLs are signed through IAM signBlob when the runtime has no private key.
      "iamcredentials.googleapis.com",
      # Telemetry (OTEL_METRICS_EXPORTER=gcp): custom.googleapis.com/* metrics.
      "monitoring.googleapis.com",
      "run.googleapis.com",
      "servicecontrol.googleapis.com",
      "servicemanagement.googleapis.com",
      "storage.googleapis.com",
    ],
    var.enable_internal_lb ? ["compute.googleapis.com", "vpcaccess.googleapis.com"] : [],
  ))
}

resource "google_project_service" "api" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
