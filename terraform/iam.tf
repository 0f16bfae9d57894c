# Least privilege per role.
#   admin    reads and writes machines and profiles; creates blobs (create-only: uploads
#            never overwrite) and deletes the ones a replaced or deleted profile, or a
#            failed upload, leaves behind: a custom role with exactly
#            storage.objects.create/get/delete on the blob bucket.
#   boot     reads documents and blobs, and signs URLs: V4 signing without a private key
#            goes through IAM signBlob, which needs Token Creator on itself. Writes only
#            the rate-limit database (counters, download leases), as admin does.
#   health   reads one document and lists one object.
#   internal (the sweeper) reads profiles, lists and deletes blobs: a custom role with
#            exactly storage.objects.list/get/delete on the blob bucket.
locals {
  # Custom roles, bound on the blob bucket only (predefined roles carry more).
  blob_roles = {
    writer  = ["storage.objects.create", "storage.objects.delete", "storage.objects.get"]
    sweeper = ["storage.objects.delete", "storage.objects.get", "storage.objects.list"]
  }
  blob_role_names = {
    for key in keys(local.blob_roles) : key => "projects/${var.project_id}/roles/${replace(var.name_prefix, "-", "_")}_blob_${key}"
  }

  runtime_permissions = {
    admin = {
      firestore_role = "roles/datastore.user"
      bucket_roles = {
        write = local.blob_role_names.writer
      }
      signs_urls = false
    }
    boot = {
      # Writes too since issue 13: boot records, discovered MACs, and the netboot once -> disabled
      # switch (README, Fleet lifecycle). Firestore IAM cannot narrow this to those collections.
      firestore_role = "roles/datastore.user"
      bucket_roles = {
        read = "roles/storage.objectViewer"
      }
      signs_urls = true
    }
    health = {
      firestore_role = "roles/datastore.viewer"
      bucket_roles = {
        read = "roles/storage.objectViewer"
      }
      signs_urls = false
    }
    # The console's static files: no database, no bucket (uploads go from the browser to
    # session URIs the admin functions start).
    console = {
      firestore_role = null
      bucket_roles   = {}
      signs_urls     = false
    }
    internal = {
      # The sweeper deletes the blob-index document of every blob it deletes, in the same
      # transaction that re-checks that no profile references it (README, upload sessions).
      firestore_role = "roles/datastore.user"
      bucket_roles = {
        sweep = local.blob_role_names.sweeper
      }
      signs_urls = false
    }
  }

  bucket_bindings = merge([
    for audience, p in local.runtime_permissions : {
      for key, role in p.bucket_roles : "${audience}/${key}" => { audience = audience, role = role }
    }
  ]...)
}

resource "google_project_iam_custom_role" "blob" {
  for_each = local.blob_roles

  role_id     = regex("[^/]+$", local.blob_role_names[each.key])
  title       = "netboot blob ${each.key}"
  description = "Bound on the netboot blob bucket only."
  permissions = each.value
}

resource "google_project_iam_member" "runtime_firestore" {
  for_each = { for audience, p in local.runtime_permissions : audience => p if p.firestore_role != null }

  project = var.project_id
  role    = each.value.firestore_role
  member  = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

# The functions that enforce rate limits (admin, boot) read and write the rate-limit
# database (firestore.tf) and only it: boot stays read-only on the inventory.
resource "google_project_iam_member" "runtime_rate_limits" {
  for_each = toset(["admin", "boot"])

  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.runtime[each.key].email}"

  condition {
    title       = "rate-limit-database-only"
    description = "Rate-limit counters and download leases; not the inventory."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${google_firestore_database.rate_limits.name}\""
  }
}

resource "google_storage_bucket_iam_member" "runtime_blobs" {
  for_each = local.bucket_bindings

  bucket = google_storage_bucket.blobs.name
  role   = each.value.role
  member = "serviceAccount:${google_service_account.runtime[each.value.audience].email}"

  depends_on = [google_project_iam_custom_role.blob]
}

resource "google_service_account_iam_member" "runtime_signs_urls" {
  for_each = { for audience, p in local.runtime_permissions : audience => p if p.signs_urls }

  service_account_id = google_service_account.runtime[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

# Builds (Cloud Build, as google_service_account.builder): write logs and images, read the
# source archive and keep build state in Cloud Storage (Google documents
# roles/storage.objectAdmin for this) - everywhere except the blob bucket.
resource "google_project_iam_member" "builder" {
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer"])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.builder.email}"
}

resource "google_project_iam_member" "builder_storage" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = "serviceAccount:${google_service_account.builder.email}"

  condition {
    title       = "not-the-blob-bucket"
    description = "Builds never touch kernels and initrds."
    expression  = "resource.name != \"projects/_/buckets/${local.blob_bucket_name}\" && !resource.name.startsWith(\"projects/_/buckets/${local.blob_bucket_name}/\")"
  }
}

# Who may invoke which function. No function allows unauthenticated calls except the boot
# functions behind the internal load balancer, whose ingress then admits only VPC and
# load-balancer traffic (the load balancer does not present an identity).
# The gateway may invoke every function but the internal ones (the sweeper), which do no
# authentication of their own, and the boot functions unless boot_on_api_gateway publishes
# them there: by default boot traffic reaches them only through the internal load balancer.
resource "google_cloud_run_service_iam_member" "gateway_invokes" {
  for_each = { for name, f in local.functions : name => f if f.audience != "internal" && (f.audience != "boot" || var.boot_on_api_gateway) }

  project  = var.project_id
  location = var.region
  service  = local.run_service[each.key]
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.gateway.email}"
}

resource "google_cloud_run_service_iam_member" "scheduler_invokes_sweeper" {
  project  = var.project_id
  location = var.region
  service  = local.run_service[local.sweeper]
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_run_service_iam_member" "internal_lb_invokes_boot" {
  for_each = { for name, f in local.boot_functions : name => f if var.enable_internal_lb }

  project  = var.project_id
  location = var.region
  service  = local.run_service[each.key]
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Telemetry: every runtime account writes spans (Cloud Trace) and metrics (Cloud
# Monitoring) of its functions, nothing else of either.
resource "google_project_iam_member" "runtime_telemetry" {
  for_each = { for pair in setproduct(keys(local.runtime_accounts), ["roles/cloudtrace.agent", "roles/monitoring.metricWriter"]) : "${pair[0]}:${pair[1]}" => { audience = pair[0], role = pair[1] } }

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.runtime[each.value.audience].email}"
}
