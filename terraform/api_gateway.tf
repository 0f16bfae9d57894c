# The public front door: API Gateway, configured by openapi.yaml, which
# scripts/generate-deploy-artifacts.ts generates from the route table. Every operation
# has an x-google-backend with the function's URL and path_translation
# APPEND_PATH_TO_ADDRESS, so each function sees the original path and checks it against
# its own routes. The gateway calls the functions as google_service_account.gateway
# (an ID token whose audience is the function's URL).
#
# Admin and internal operations require an API key (header x-api-key); boot and health
# operations are open: iPXE cannot send credentials, and the boot functions check
# BOOT_ALLOWED_CIDRS themselves.
locals {
  gateway_region   = var.gateway_region != null ? var.gateway_region : var.region
  openapi_document = templatefile("${path.module}/openapi.yaml", { backends = local.function_uri })
}

resource "google_api_gateway_api" "this" {
  provider = google-beta

  api_id       = "${var.name_prefix}-api"
  display_name = "netboot control plane"
  labels       = var.labels

  depends_on = [google_project_service.api]
}

resource "google_api_gateway_api_config" "this" {
  provider = google-beta

  api                  = google_api_gateway_api.this.api_id
  api_config_id_prefix = "${var.name_prefix}-"
  display_name         = "netboot"
  labels               = var.labels

  openapi_documents {
    document {
      path     = "openapi.yaml"
      contents = base64encode(local.openapi_document)
    }
  }

  gateway_config {
    backend_config {
      google_service_account = google_service_account.gateway.email
    }
  }

  # A config cannot change in place: the new one is created, the gateway switched, then
  # the old one deleted.
  lifecycle {
    create_before_destroy = true
  }
}

resource "google_api_gateway_gateway" "this" {
  provider = google-beta

  gateway_id   = "${var.name_prefix}-gateway"
  region       = local.gateway_region
  api_config   = google_api_gateway_api_config.this.id
  display_name = "netboot"
  labels       = var.labels
}

# API keys are checked against the gateway's own managed service, which must be enabled.
resource "google_project_service" "gateway_managed_service" {
  project            = var.project_id
  service            = google_api_gateway_api.this.managed_service
  disable_on_destroy = false
}

resource "google_apikeys_key" "admin" {
  count = var.create_admin_api_key ? 1 : 0

  name         = "${var.name_prefix}-admin"
  display_name = "netboot admin API"

  restrictions {
    api_targets {
      service = google_api_gateway_api.this.managed_service
    }
  }

  depends_on = [google_project_service.api, google_project_service.gateway_managed_service]
}
