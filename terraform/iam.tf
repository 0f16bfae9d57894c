# Least privilege per role.
#   admin    reads and writes machines and profiles; creates blobs (create-only: uploads
#            never overwrite, the sweeper deletes) and reads their metadata.
#   boot     reads documents and blobs, and signs URLs: V4 signing without a private key
#            goes through IAM signBlob, which needs Token Creator on itself.
#   health   reads one document and lists one object.
#   internal (the sweeper) reads profiles, lists and deletes blobs: a custom role with
#            exactly storage.objects.list/get/delete on the blob bucket.
locals {
  sweeper_role_id = "${replace(var.name_prefix, "-", "_")}_blob_sweeper"

  runtime_permissions = {
    admin = {
      firestore_role = "roles/datastore.user"
      bucket_roles = {
        create = "roles/storage.objectCreator"
        read   = "roles/storage.objectViewer"
      }
      signs_urls = false
    }
    boot = {
      firestore_role = "roles/datastore.viewer"
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
    internal = {
      firestore_role = "roles/datastore.viewer"
      bucket_roles = {
        sweep = "projects/${var.project_id}/roles/${local.sweeper_role_id}"
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

resource "google_project_iam_custom_role" "blob_sweeper" {
  role_id     = local.sweeper_role_id
  title       = "netboot blob sweeper"
  description = "List, read and delete objects; bound on the blob bucket only."
  permissions = ["storage.objects.delete", "storage.objects.get", "storage.objects.list"]
}

resource "google_project_iam_member" "runtime_firestore" {
  for_each = local.runtime_permissions

  project = var.project_id
  role    = each.value.firestore_role
  member  = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

resource "google_storage_bucket_iam_member" "runtime_blobs" {
  for_each = local.bucket_bindings

  bucket = google_storage_bucket.blobs.name
  role   = each.value.role
  member = "serviceAccount:${google_service_account.runtime[each.value.audience].email}"

  depends_on = [google_project_iam_custom_role.blob_sweeper]
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
resource "google_cloud_run_service_iam_member" "gateway_invokes" {
  for_each = local.functions

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
