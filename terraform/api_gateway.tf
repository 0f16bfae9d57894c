# The public front door: API Gateway, configured by openapi.yaml, which
# scripts/generate-deploy-artifacts.ts generates from the route table. Every operation
# has an x-google-backend with the function's URL and path_translation
# APPEND_PATH_TO_ADDRESS, so each function sees the original path and checks it against
# its own routes. The gateway calls the functions as google_service_account.gateway
# (an ID token whose audience is the function's URL).
#
# Admin and internal operations require a Google-signed ID token whose audience is
# local.admin_token_audience (Authorization: Bearer ...): var.admin_token_audience when set,
# otherwise this deployment's own, the API's managed service name (output
# admin_token_audience), so a token minted for one deployment (staging) opens no other
# (production) even under the same admin_principals. The gateway verifies it and
# forwards its claims in X-Apigateway-Api-Userinfo; the admin functions (ADMIN_AUTH =
# gateway) first check that Authorization carries the gateway's own ID token (the caller's
# moves to X-Forwarded-Authorization), then admit only var.admin_principals. Health
# operations are open. Boot operations are published only with var.boot_on_api_gateway
# (iPXE cannot send credentials; BOOT_ALLOWED_CIDRS must then name ranges): by default boot
# traffic reaches the boot functions through the internal load balancer alone.
# The internal operation (the sweeper) is refused even with a token: the gateway may not
# invoke that function, only Cloud Scheduler may (iam.tf).
locals {
  gateway_region = var.gateway_region != null ? var.gateway_region : var.region
  # <api_id>-<hash>.apigateway.<project>.cloud.goog: unique to this API in this project.
  admin_token_audience = coalesce(var.admin_token_audience, google_api_gateway_api.this.managed_service)
  # openapi.yaml has no boot operations; openapi-with-boot.yaml (boot_on_api_gateway) has.
  openapi_document = templatefile("${path.module}/${var.boot_on_api_gateway ? "openapi-with-boot.yaml" : "openapi.yaml"}", {
    backends             = local.function_uri
    admin_token_audience = local.admin_token_audience
  })
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
