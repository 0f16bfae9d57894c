# Every function of the route table (shared/routes.ts), one resource each through for_each.
# The list, the entry points and each function's size come from functions.json, generated
# by scripts/generate-deploy-artifacts.ts (`npm run generate`); the reasons for each size
# are in that script and in each entry's sizing_note; the boot path's max instances come from
# variables (boot_storm.tf). Never edit functions.json by hand.
locals {
  functions      = { for name, f in jsondecode(file("${path.module}/functions.json")).functions : name => merge(f, { max_instances = lookup(local.max_instances_from_variables, name, f.max_instances) }) }
  boot_functions = { for name, f in local.functions : name => f if f.audience == "boot" }
  # The function Cloud Scheduler calls (audience internal, POST).
  sweeper = "blobsSweep"

  # Every environment variable the code reads (shared/config.ts), the same for every
  # function. FIRESTORE_EMULATOR_HOST, STORAGE_EMULATOR_HOST,
  # STORAGE_SIGNING_CREDENTIALS (a key file's content) and LOCAL_AUTH_PUBLIC_KEY_FILE are
  # for tests and the local stack only and are never set here: in production URLs are
  # signed through IAM signBlob and admin tokens are Google's. ADMIN_AUTH is "gateway":
  # admin requests arrive only through API Gateway (only it may invoke the admin
  # functions), which verifies the ID token and forwards its claims.
  function_env_base = {
    GOOGLE_CLOUD_PROJECT              = var.project_id
    BLOB_BUCKET                       = google_storage_bucket.blobs.name
    KERNEL_MAX_BYTES                  = tostring(var.kernel_max_bytes)
    INITRD_MAX_BYTES                  = tostring(var.initrd_max_bytes)
    MAX_REQUEST_BYTES                 = tostring(var.max_request_bytes)
    BLOB_SWEEP_GRACE_SECONDS          = tostring(var.blob_sweep_grace_seconds)
    PROFILE_VERSION_RETENTION_SECONDS = tostring(var.profile_version_retention_seconds)
    UPLOAD_SESSION_TTL_SECONDS        = tostring(var.upload_session_ttl_seconds)
    ASSET_DELIVERY                    = var.asset_delivery
    RESPONSE_MAX_BYTES                = tostring(var.response_max_bytes)
    STREAMED_RESPONSE_MAX_BYTES       = tostring(var.streamed_response_max_bytes)
    ASSET_PART_BYTES                  = tostring(var.asset_part_bytes)
    SIGNED_URL_TTL_SECONDS            = tostring(var.signed_url_ttl_seconds)
    BOOT_ALLOWED_CIDRS                = join(",", local.boot_allowed_cidrs)
    ADMIN_AUTH                        = "gateway"
    # Gateway mode: the functions admit admin requests only when Authorization carries an
    # ID token of the gateway's own service account (shared/auth/verify.ts).
    ADMIN_GATEWAY_SERVICE_ACCOUNT    = google_service_account.gateway.email
    ADMIN_GATEWAY_SERVICE_ACCOUNT_ID = google_service_account.gateway.unique_id
    ADMIN_TOKEN_AUDIENCE             = local.admin_token_audience
    ADMIN_PRINCIPALS                 = join(",", var.admin_principals)
    PROBLEM_TYPE_BASE                = var.problem_type_base
    # Rate limits (shared/ratelimit), kept in their own database (firestore.tf). Admin
    # requests reach the functions through API Gateway, which has no Cloud Armor: the
    # admin limits are the functions' alone. Boot routes behind the internal load balancer
    # are also limited per client address by Cloud Armor (internal_lb.tf).
    RATE_LIMIT_BOOT_PER_MAC          = tostring(var.rate_limit_boot_per_mac)
    RATE_LIMIT_BOOT_PER_ADDRESS      = tostring(var.rate_limit_boot_per_address)
    RATE_LIMIT_BOOT_GLOBAL           = tostring(var.rate_limit_boot_global)
    RATE_LIMIT_ADMIN_PER_PRINCIPAL   = tostring(var.rate_limit_admin_per_principal)
    RATE_LIMIT_ADMIN_PER_IP          = tostring(var.rate_limit_admin_per_ip)
    RATE_LIMIT_ADMIN_GLOBAL          = tostring(var.rate_limit_admin_global)
    RATE_LIMIT_DOWNLOADS_PER_PROFILE = tostring(var.rate_limit_downloads_per_profile)
    RATE_LIMIT_DATABASE              = google_firestore_database.rate_limits.name
    RATE_LIMIT_FAIL_MODE             = var.rate_limit_fail_mode
    RATE_LIMIT_TIMEOUT_MS            = tostring(var.rate_limit_timeout_ms)
    RATE_LIMIT_MAX_SHARDS            = tostring(var.rate_limit_max_shards)
    LOG_LEVEL                        = var.log_level
    # Fleet lifecycle (shared/lifecycle): boot records, discovery, the boot path's deadline.
    BOOT_DB_TIMEOUT_MS      = tostring(var.boot_db_timeout_ms)
    BOOT_RECORD_TTL_SECONDS = tostring(var.boot_record_ttl_seconds)
    # A boot's windows (docs/security.md): its booting report, and its {{metadata_url}}.
    BOOT_REPORT_WINDOW_SECONDS   = tostring(var.boot_report_window_seconds)
    BOOT_METADATA_WINDOW_SECONDS = tostring(var.boot_metadata_window_seconds)
    DISCOVERY_TTL_SECONDS        = tostring(var.discovery_ttl_seconds)
    DISCOVERY_COALESCE_SECONDS   = tostring(var.discovery_coalesce_seconds)
    DISCOVERY_WRITES_PER_MINUTE  = tostring(var.discovery_writes_per_minute)
    # Telemetry (shared/telemetry; README, Observability): spans to Cloud Trace and metrics
    # to Cloud Monitoring by default. CPU is throttled between requests, so a batch of spans
    # waits at most OTEL_BSP_SCHEDULE_DELAY ms; SIGTERM flushes what is left.
    OTEL_TRACES_EXPORTER        = var.otel_traces_exporter
    OTEL_METRICS_EXPORTER       = var.otel_metrics_exporter
    OTEL_BSP_SCHEDULE_DELAY     = tostring(var.otel_bsp_schedule_delay)
    OTEL_METRIC_EXPORT_INTERVAL = tostring(var.otel_metric_export_interval)
  }
  # Optional: unset means the code's default (storage.googleapis.com).
  function_env_optional = var.storage_public_url == null ? {} : { STORAGE_PUBLIC_URL = var.storage_public_url }
  # Per function: the shared environment plus its front door's hop count.
  function_env = {
    for name, f in local.functions : name => merge(local.function_env_base, local.function_env_optional, {
      TRUSTED_PROXY_HOPS = tostring(local.front_door_hops[local.front_door[name]])
      }, local.front_door[name] == "internal_lb" && var.front_door_secret != null ? {
      # The load balancer's mark (internal_lb.tf): without it, a request came to the function's own URL (1 hop).
      FRONT_DOOR_SECRET = var.front_door_secret
    } : {})
  }

  # Boot functions behind the internal load balancer accept only internal and
  # load-balancer traffic; everything else is reached through API Gateway (or Cloud
  # Scheduler), which authenticates to the function with its own service account.
  ingress = {
    for name, f in local.functions : name => (
      f.audience == "boot" && var.enable_internal_lb ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"
    )
  }
  uses_vpc_connector = { for name, f in local.functions : name => f.audience == "boot" && var.enable_internal_lb }

  # Cloud Run service of each function (service_config.service is a full resource name).
  run_service = { for name, f in google_cloudfunctions2_function.fn : name => regex("[^/]+$", f.service_config[0].service) }
  # https://<service>-<hash>.<region>.run.app: the backend address and the token audience.
  function_uri = { for name, f in google_cloudfunctions2_function.fn : name => f.service_config[0].uri }
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions

  name        = "${var.name_prefix}-${each.value.name}"
  location    = var.region
  description = each.value.description
  labels      = merge(var.labels, { audience = each.value.audience })

  build_config {
    runtime         = "nodejs24"
    entry_point     = each.value.entry_point
    service_account = google_service_account.builder.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    max_instance_request_concurrency = each.value.concurrency
    timeout_seconds                  = each.value.timeout_seconds
    min_instance_count               = 0
    max_instance_count               = each.value.max_instances
    service_account_email            = google_service_account.runtime[each.value.audience].email
    ingress_settings                 = local.ingress[each.key]
    all_traffic_on_latest_revision   = true
    environment_variables            = local.function_env[each.key]
    vpc_connector                    = local.uses_vpc_connector[each.key] ? google_vpc_access_connector.boot[0].id : null
    vpc_connector_egress_settings    = local.uses_vpc_connector[each.key] ? "PRIVATE_RANGES_ONLY" : null
  }

  depends_on = [
    google_project_service.api,
    google_project_iam_member.builder,
    google_project_iam_member.builder_storage,
  ]
}

