# The one source archive every function is built from (`npm run build` makes it).
# The object is named after the archive's SHA-256: a changed build is a new object and
# redeploys every function; an unchanged one changes nothing. A changed zip under the
# same name would not redeploy.
locals {
  source_archive        = var.source_archive_path != null ? var.source_archive_path : "${path.module}/../dist/function-source.zip"
  source_archive_sha256 = filesha256(local.source_archive)
}

resource "google_storage_bucket" "source" {
  name                        = "${var.project_id}-${var.name_prefix}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = var.labels

  depends_on = [google_project_service.api]
}

resource "google_storage_bucket_object" "source" {
  bucket = google_storage_bucket.source.name
  name   = "function-source/${local.source_archive_sha256}.zip"
  source = local.source_archive
}
