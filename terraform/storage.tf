# Kernels and initrds. Private: uniform bucket-level access, public access prevention
# enforced; iPXE clients get signed URLs (ASSET_DELIVERY=redirect) or the function's
# own stream (proxy). Unreferenced blobs are deleted by the hourly sweeper, not by a
# lifecycle rule: only the sweeper knows which blobs a profile still references.
locals {
  blob_bucket_name = var.blob_bucket_name != null ? var.blob_bucket_name : "${var.project_id}-${var.name_prefix}-blobs"
}

resource "google_storage_bucket" "blobs" {
  name                        = local.blob_bucket_name
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  # The console uploads kernels and initrds from the browser straight to resumable session URIs
  # (docs/console.md). Sessions started with the page's Origin answer CORS for it; this rule lets
  # the listed console origins (the API Gateway URL, output console_url) use the bucket's XML/JSON
  # upload endpoints as well and read the Range / Location headers of a resumable session.
  dynamic "cors" {
    for_each = length(var.console_origins) > 0 ? [1] : []
    content {
      origin          = var.console_origins
      method          = ["PUT", "POST", "GET", "HEAD", "DELETE"]
      response_header = ["Content-Type", "Content-Range", "Range", "Location", "X-GUploader-UploadID", "x-goog-resumable"]
      max_age_seconds = 3600
    }
  }

  depends_on = [google_project_service.api]
}
