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

  depends_on = [google_project_service.api]
}
