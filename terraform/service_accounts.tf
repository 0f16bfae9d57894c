# One service account per role; none has a project-wide role beyond what it needs (see
# iam.tf), and none is owner or editor.
locals {
  # Audience in the route table -> the runtime account that serves it.
  runtime_accounts = {
    admin    = "admin"
    boot     = "boot"
    health   = "health"
    internal = "sweeper"
    console  = "console"
  }
}

resource "google_service_account" "runtime" {
  for_each = local.runtime_accounts

  account_id   = "${var.name_prefix}-${each.value}"
  display_name = "netboot ${each.value} functions"
  description  = "Runtime identity of the functions whose routes have audience '${each.key}'."

  depends_on = [google_project_service.api]
}

resource "google_service_account" "gateway" {
  account_id   = "${var.name_prefix}-gateway"
  display_name = "netboot API Gateway"
  description  = "Identity API Gateway uses to invoke the functions."

  depends_on = [google_project_service.api]
}

resource "google_service_account" "scheduler" {
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "netboot sweep scheduler"
  description  = "Identity Cloud Scheduler uses (OIDC token) to call blobsSweep."

  depends_on = [google_project_service.api]
}

resource "google_service_account" "builder" {
  account_id   = "${var.name_prefix}-builder"
  display_name = "netboot function builds"
  description  = "Cloud Build identity for building the functions from the source archive."

  depends_on = [google_project_service.api]
}
