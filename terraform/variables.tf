# ---------------------------------------------------------------------------
# Where to deploy
# ---------------------------------------------------------------------------

variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions, the bucket, the scheduler job and (if enabled) the internal load balancer."
  type        = string
}

variable "gateway_region" {
  description = "Region of the API Gateway (only some regions offer it). Null: var.region."
  type        = string
  default     = null
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, service accounts, buckets, gateway)."
  type        = string
  default     = "netboot"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix: 3-12 characters, lower-case letters, digits and hyphens, starting with a letter (service account ids are limited to 30 characters)."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Deployable source
# ---------------------------------------------------------------------------

variable "source_archive_path" {
  description = "Source archive built by `npm run build`. Null: ../dist/function-source.zip next to this module. To roll back, point it at a previous release's archive."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------
# Data stores
# ---------------------------------------------------------------------------

variable "blob_bucket_name" {
  description = "Bucket holding kernels and initrds. Null: <project_id>-<name_prefix>-blobs."
  type        = string
  default     = null
}

variable "create_firestore_database" {
  description = "Create the (default) Firestore database in native mode. Set false when the project already has one."
  type        = bool
  default     = true
}

variable "firestore_location" {
  description = "Firestore location (a region such as europe-west1, or a multi-region such as eur3). Null: var.region."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------
# Function configuration: one variable per environment variable the code reads
# (shared/config.ts). Defaults match the code's own defaults where those suit production.
# ---------------------------------------------------------------------------

variable "kernel_max_bytes" {
  description = "KERNEL_MAX_BYTES: largest kernel accepted."
  type        = number
  default     = 104857600

  validation {
    condition     = var.kernel_max_bytes > 0 && floor(var.kernel_max_bytes) == var.kernel_max_bytes
    error_message = "kernel_max_bytes must be a positive integer."
  }
}

variable "initrd_max_bytes" {
  description = "INITRD_MAX_BYTES: largest initrd accepted."
  type        = number
  default     = 1073741824

  validation {
    condition     = var.initrd_max_bytes > 0 && floor(var.initrd_max_bytes) == var.initrd_max_bytes
    error_message = "initrd_max_bytes must be a positive integer."
  }
}

variable "max_request_bytes" {
  description = "MAX_REQUEST_BYTES: requests above it are refused before parsing. Cloud Functions itself stops at 32 MiB."
  type        = number
  default     = 33554432

  validation {
    condition     = var.max_request_bytes > 0 && var.max_request_bytes <= 33554432 && floor(var.max_request_bytes) == var.max_request_bytes
    error_message = "max_request_bytes must be a positive integer of at most 33554432 (32 MiB, the platform's limit)."
  }
}

variable "response_max_bytes" {
  description = "RESPONSE_MAX_BYTES: the platform's cap on a response with Content-Length (API Gateway: 32 megabytes; Cloud Run HTTP/1: 32 MiB). Proxy mode never answers more in one response."
  type        = number
  default     = 32000000

  validation {
    condition     = var.response_max_bytes > 0 && var.response_max_bytes <= 33554432 && floor(var.response_max_bytes) == var.response_max_bytes
    error_message = "response_max_bytes must be a positive integer of at most 33554432 (32 MiB, the platform's limit)."
  }
}

variable "streamed_response_max_bytes" {
  description = "STREAMED_RESPONSE_MAX_BYTES: the platform's cap on a streamed (chunked) response (Cloud Functions gen2 quotas: 10MB). Enforced by the local gateway only."
  type        = number
  default     = 10000000
}

variable "asset_part_bytes" {
  description = "ASSET_PART_BYTES: proxy mode lists initrds larger than this as parts of this size (a multiple of 4096, at most 9998336: below both response caps)."
  type        = number
  default     = 8388608

  validation {
    condition     = var.asset_part_bytes > 0 && var.asset_part_bytes <= 9998336 && var.asset_part_bytes % 4096 == 0
    error_message = "asset_part_bytes must be a positive multiple of 4096 of at most 9998336."
  }
}

variable "profile_version_retention_seconds" {
  description = "PROFILE_VERSION_RETENTION_SECONDS: how long a replaced kernel and initrd stay downloadable under their versioned URLs (longer than the slowest boot)."
  type        = number
  default     = 3600

  validation {
    condition     = var.profile_version_retention_seconds >= 0 && var.profile_version_retention_seconds <= 604800 && floor(var.profile_version_retention_seconds) == var.profile_version_retention_seconds
    error_message = "profile_version_retention_seconds must be a whole number of seconds from 0 to 604800 (7 days)."
  }
}

variable "upload_session_ttl_seconds" {
  description = "UPLOAD_SESSION_TTL_SECONDS: how long an upload session (POST /api/v1/uploads) can be finalized; its blobs count as references for the sweeper until then plus the sweep grace."
  type        = number
  default     = 86400

  validation {
    condition     = var.upload_session_ttl_seconds > 0 && var.upload_session_ttl_seconds <= 604800 && floor(var.upload_session_ttl_seconds) == var.upload_session_ttl_seconds
    error_message = "upload_session_ttl_seconds must be a whole number of seconds from 1 to 604800 (7 days, the life of a GCS resumable session)."
  }
}

variable "blob_sweep_grace_seconds" {
  description = "BLOB_SWEEP_GRACE_SECONDS: an unreferenced blob younger than this is kept (an upload may still be finishing)."
  type        = number
  default     = 7200

  validation {
    condition     = var.blob_sweep_grace_seconds > 0 && floor(var.blob_sweep_grace_seconds) == var.blob_sweep_grace_seconds
    error_message = "blob_sweep_grace_seconds must be a positive integer."
  }
}

variable "asset_delivery" {
  description = "ASSET_DELIVERY: redirect (302 to a signed Cloud Storage URL; needs an iPXE with HTTPS) or proxy (the function streams the blob)."
  type        = string
  default     = "redirect"

  validation {
    condition     = contains(["redirect", "proxy"], var.asset_delivery)
    error_message = "asset_delivery must be redirect or proxy."
  }
}

variable "signed_url_ttl_seconds" {
  description = "SIGNED_URL_TTL_SECONDS: lifetime of signed asset URLs (60 s to 7 days)."
  type        = number
  default     = 900

  validation {
    condition     = var.signed_url_ttl_seconds >= 60 && var.signed_url_ttl_seconds <= 604800 && floor(var.signed_url_ttl_seconds) == var.signed_url_ttl_seconds
    error_message = "signed_url_ttl_seconds must be an integer from 60 to 604800."
  }
}

variable "storage_public_url" {
  description = "STORAGE_PUBLIC_URL (optional): base URL under which blobs are reachable, when not storage.googleapis.com. Null: not set."
  type        = string
  default     = null

  validation {
    condition     = var.storage_public_url == null || can(regex("^https?://", var.storage_public_url))
    error_message = "storage_public_url must be an http(s) URL."
  }
}

variable "boot_allowed_cidrs" {
  description = "BOOT_ALLOWED_CIDRS: client networks allowed to call the boot routes. Null: the private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) behind the internal load balancer, and nothing at all otherwise. Required (your boot networks' egress ranges) with boot_on_api_gateway. Never 0.0.0.0/0 or ::/0 (nor anything broader than an IPv4 /8 or IPv6 /16): that needs boot_allow_any_address."
  type        = list(string)
  default     = null

  validation {
    condition = alltrue([
      for c in(var.boot_allowed_cidrs == null ? [] : var.boot_allowed_cidrs) :
      can(cidrhost(c, 0)) && try(tonumber(split("/", c)[1]) >= (strcontains(c, ":") ? 16 : 8), false)
    ])
    error_message = "boot_allowed_cidrs: each entry must be an IPv4 CIDR of /8 or narrower or an IPv6 CIDR of /16 or narrower (0.0.0.0/0 and ::/0 are refused). Name your boot networks' ranges; to admit every address on purpose, set boot_allow_any_address = true instead."
  }
}

variable "boot_on_api_gateway" {
  description = "Publish the boot routes (/boot.ipxe, /asset/...) on the public API Gateway. Off by default: boot traffic belongs on the VPN (enable_internal_lb). When on, boot_allowed_cidrs must name the boot networks' public egress ranges, and enable_internal_lb must be off (each boot function has one front door)."
  type        = bool
  default     = false
}

variable "boot_allow_any_address" {
  description = "Second, explicit acknowledgement that the boot routes may answer every address (adds 0.0.0.0/0 and ::/0 to BOOT_ALLOWED_CIDRS). With boot_on_api_gateway this lets anyone on the internet enumerate MACs, read kernel arguments and download images. Leave false."
  type        = bool
  default     = false
}

variable "trusted_proxy_hops_api_gateway" {
  description = "TRUSTED_PROXY_HOPS of the functions behind API Gateway (admin, health, and boot with boot_on_api_gateway): X-Forwarded-For entries appended after the client's address. API Gateway's front end appends the client, the function's Cloud Run front end appends the gateway's egress address: 2. Not documented by Google: check it once on a deployment (README, Security)."
  type        = number
  default     = 2

  validation {
    condition     = var.trusted_proxy_hops_api_gateway >= 1 && var.trusted_proxy_hops_api_gateway <= 5 && floor(var.trusted_proxy_hops_api_gateway) == var.trusted_proxy_hops_api_gateway
    error_message = "trusted_proxy_hops_api_gateway must be an integer from 1 to 5."
  }
}

variable "trusted_proxy_hops_internal_lb" {
  description = "TRUSTED_PROXY_HOPS of the boot functions behind the internal Application Load Balancer: it appends '<client-ip>,<load-balancer-ip>' to X-Forwarded-For (Google's load balancing docs): 2."
  type        = number
  default     = 2

  validation {
    condition     = var.trusted_proxy_hops_internal_lb >= 1 && var.trusted_proxy_hops_internal_lb <= 5 && floor(var.trusted_proxy_hops_internal_lb) == var.trusted_proxy_hops_internal_lb
    error_message = "trusted_proxy_hops_internal_lb must be an integer from 1 to 5."
  }
}

variable "front_door_secret" {
  description = "Needed with enable_internal_lb: 32-128 characters (A-Z a-z 0-9 _ -) the internal load balancer's URL map puts in X-Netboot-Front-Door on every boot request (replacing any a client sent); the boot functions read X-Forwarded-For with trusted_proxy_hops_internal_lb only when it is present, and with 1 hop otherwise, so a VPC host calling a function's own URL cannot choose its client address. Per deployment, e.g. `openssl rand -base64 48 | tr '+/' '-_' | tr -d '='`."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.front_door_secret == null || can(regex("^[A-Za-z0-9_-]{32,128}$", var.front_door_secret))
    error_message = "front_door_secret must be 32-128 characters of A-Z a-z 0-9 _ -."
  }
}

variable "problem_type_base" {
  description = "PROBLEM_TYPE_BASE: base URL of the `type` of problem+json error answers."
  type        = string
  default     = "https://api.example.com/errors/"
}

variable "log_level" {
  description = "LOG_LEVEL: error, warn, info or debug."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["error", "warn", "info", "debug"], var.log_level)
    error_message = "log_level must be error, warn, info or debug."
  }
}

# Rate limits (shared/ratelimit). Requests per minute in fixed one-minute windows, or
# concurrent downloads; 0 switches a limit off.

variable "rate_limit_boot_per_mac" {
  description = "RATE_LIMIT_BOOT_PER_MAC: boot script requests per minute per MAC address (the spec: 10)."
  type        = number
  default     = 10

  validation {
    condition     = var.rate_limit_boot_per_mac >= 0 && floor(var.rate_limit_boot_per_mac) == var.rate_limit_boot_per_mac
    error_message = "rate_limit_boot_per_mac must be a non-negative integer."
  }
}

variable "rate_limit_boot_per_address" {
  description = "RATE_LIMIT_BOOT_PER_ADDRESS: requests per minute per client address on every boot route (a flooding host is stopped by its own address; 0: no limit)."
  type        = number
  default     = 600

  validation {
    condition     = var.rate_limit_boot_per_address >= 0 && floor(var.rate_limit_boot_per_address) == var.rate_limit_boot_per_address
    error_message = "rate_limit_boot_per_address must be a non-negative integer."
  }
}

variable "rate_limit_boot_global" {
  description = "RATE_LIMIT_BOOT_GLOBAL: requests per minute on every boot route, all clients together (a bound on what a flood costs; BENCHMARKS.md's storm model says when a real storm meets it; 0: no limit)."
  type        = number
  default     = 30000

  validation {
    condition     = var.rate_limit_boot_global >= 0 && floor(var.rate_limit_boot_global) == var.rate_limit_boot_global
    error_message = "rate_limit_boot_global must be a non-negative integer."
  }
}

variable "rate_limit_admin_per_principal" {
  description = "RATE_LIMIT_ADMIN_PER_PRINCIPAL: admin API requests per minute per administrator (the spec: 100)."
  type        = number
  default     = 100

  validation {
    condition     = var.rate_limit_admin_per_principal >= 0 && floor(var.rate_limit_admin_per_principal) == var.rate_limit_admin_per_principal
    error_message = "rate_limit_admin_per_principal must be a non-negative integer."
  }
}

variable "rate_limit_admin_per_ip" {
  description = "RATE_LIMIT_ADMIN_PER_IP: admin API requests per minute per client address, an IPv6 client by its /64 (the spec: 300)."
  type        = number
  default     = 300

  validation {
    condition     = var.rate_limit_admin_per_ip >= 0 && floor(var.rate_limit_admin_per_ip) == var.rate_limit_admin_per_ip
    error_message = "rate_limit_admin_per_ip must be a non-negative integer."
  }
}

variable "rate_limit_admin_global" {
  description = "RATE_LIMIT_ADMIN_GLOBAL: admin API requests per minute in total (the spec: 1000)."
  type        = number
  default     = 1000

  validation {
    condition     = var.rate_limit_admin_global >= 0 && floor(var.rate_limit_admin_global) == var.rate_limit_admin_global
    error_message = "rate_limit_admin_global must be a non-negative integer."
  }
}

variable "rate_limit_downloads_per_profile" {
  description = "RATE_LIMIT_DOWNLOADS_PER_PROFILE: concurrent streamed asset downloads per boot profile (ASSET_DELIVERY = proxy)."
  type        = number
  default     = 5

  validation {
    condition     = var.rate_limit_downloads_per_profile >= 0 && floor(var.rate_limit_downloads_per_profile) == var.rate_limit_downloads_per_profile
    error_message = "rate_limit_downloads_per_profile must be a non-negative integer."
  }
}

variable "rate_limit_fail_mode" {
  description = "RATE_LIMIT_FAIL_MODE: when the rate-limit database does not answer in time, open (serve the request unlimited) or closed (503)."
  type        = string
  default     = "open"

  validation {
    condition     = contains(["open", "closed"], var.rate_limit_fail_mode)
    error_message = "rate_limit_fail_mode must be open or closed."
  }
}

variable "rate_limit_timeout_ms" {
  description = "RATE_LIMIT_TIMEOUT_MS: how long a request waits for the rate-limit database before RATE_LIMIT_FAIL_MODE applies (50 to 10000)."
  type        = number
  default     = 1000

  validation {
    condition     = var.rate_limit_timeout_ms >= 50 && var.rate_limit_timeout_ms <= 10000 && floor(var.rate_limit_timeout_ms) == var.rate_limit_timeout_ms
    error_message = "rate_limit_timeout_ms must be an integer from 50 to 10000."
  }
}

variable "rate_limit_max_shards" {
  description = "RATE_LIMIT_MAX_SHARDS: the most shards one rate-limit counter is spread over (a counter takes ceil(limit / 30) shards: one write every two seconds each at its limit). 1000 holds the default rate_limit_boot_global; raise it with that limit (rate_limit_boot_global / 30). Up to 1000 a counted request reads its total for one billed read; each further 1000 adds one (docs/performance.md, Boot storms)."
  type        = number
  default     = 1000

  validation {
    condition     = var.rate_limit_max_shards >= 1 && var.rate_limit_max_shards <= 10000 && floor(var.rate_limit_max_shards) == var.rate_limit_max_shards
    error_message = "rate_limit_max_shards must be an integer from 1 to 10000."
  }
}

variable "boot_max_instances" {
  description = "Max instances of the boot script and booting-report functions (bootScript, bootReport). The default is bench/storm/model.ts's recommendation for 10,000 machines powering on over 15 minutes in redirect mode, with 2 x headroom; the model prints what larger storms need (docs/performance.md, Boot storms). Check the project's Cloud Run quota before raising it."
  type        = number
  default     = 6

  validation {
    condition     = var.boot_max_instances >= 1 && var.boot_max_instances <= 1000 && floor(var.boot_max_instances) == var.boot_max_instances
    error_message = "boot_max_instances must be an integer from 1 to 1000."
  }
}

variable "asset_max_instances" {
  description = "Max instances of the kernel and initrd functions (assetKernel, assetInitrd). 20 serves 20 x 20 proxy-mode streams; in redirect mode an answer costs about what a boot script does, so keep it at least boot_max_instances. The storm model prints what a proxy-mode storm needs (docs/performance.md, Boot storms)."
  type        = number
  default     = 20

  validation {
    condition     = var.asset_max_instances >= 1 && var.asset_max_instances <= 1000 && floor(var.asset_max_instances) == var.asset_max_instances
    error_message = "asset_max_instances must be an integer from 1 to 1000."
  }
}

# ---------------------------------------------------------------------------
# Front door
# ---------------------------------------------------------------------------

variable "admin_principals" {
  description = "ADMIN_PRINCIPALS: who may use the admin API: emails (alice@example.com) and whole domains (@example.com). Empty: nobody."
  type        = list(string)
  default     = []
}

variable "admin_token_audience" {
  description = "ADMIN_TOKEN_AUDIENCE: the audience (aud) admin ID tokens must carry; API Gateway checks it. Null (default): this deployment's own, the API's managed service name (output admin_token_audience), so a token minted for one deployment does not open another."
  type        = string
  default     = null

  validation {
    # Pasted into the OpenAPI document (YAML) and an environment variable: no quotes, spaces or newlines.
    condition     = var.admin_token_audience == null || can(regex("^[A-Za-z0-9._:/@-]{1,256}$", var.admin_token_audience))
    error_message = "admin_token_audience must be 1-256 characters of A-Z a-z 0-9 . _ : / @ -, or null for this deployment's own."
  }
}

variable "enable_internal_lb" {
  description = "Also serve the boot routes through an internal HTTPS load balancer (serverless NEGs, Cloud Armor) for machines that reach the VPC over a VPN. Boot functions then accept only internal and load-balancer traffic."
  type        = bool
  default     = false
}

variable "network" {
  description = "VPC network (name or self link) of the internal load balancer and the Serverless VPC Access connector."
  type        = string
  default     = "default"
}

variable "internal_lb_subnetwork" {
  description = "Subnetwork (name or self link, in var.region) whose address the internal load balancer listens on. Required when enable_internal_lb."
  type        = string
  default     = null
}

variable "internal_lb_address" {
  description = "Fixed internal IP address for the load balancer, inside internal_lb_subnetwork. Null: one is allocated."
  type        = string
  default     = null
}

variable "internal_lb_hostname" {
  description = "DNS name clients use for the internal load balancer (the certificate's name). Null: its IP address is used in the outputs."
  type        = string
  default     = null
}

variable "proxy_only_subnet_cidr" {
  description = "Create the region's proxy-only subnet (REGIONAL_MANAGED_PROXY) with this range. Null: the network already has one."
  type        = string
  default     = null
}

variable "vpc_connector_cidr" {
  description = "Unused /28 range of the Serverless VPC Access connector the boot functions send private-range egress through."
  type        = string
  default     = "10.8.0.0/28"
}

variable "internal_lb_tls_certificate" {
  description = "PEM certificate chain of the internal load balancer's HTTPS listener. Null: no HTTPS listener."
  type        = string
  default     = null
}

variable "internal_lb_tls_private_key" {
  description = "PEM private key matching internal_lb_tls_certificate."
  type        = string
  default     = null
  sensitive   = true
}

variable "internal_lb_certificate_manager_certificate" {
  description = "Instead of internal_lb_tls_certificate/internal_lb_tls_private_key: a regional Certificate Manager certificate in var.region, projects/PROJECT/locations/REGION/certificates/NAME (for example one issued by your CA Service pool). Null: none."
  type        = string
  default     = null

  validation {
    condition     = var.internal_lb_certificate_manager_certificate == null || can(regex("^projects/[^/]+/locations/[^/]+/certificates/[^/]+$", var.internal_lb_certificate_manager_certificate))
    error_message = "internal_lb_certificate_manager_certificate must be projects/PROJECT/locations/REGION/certificates/NAME."
  }
}

variable "ipxe_internal_lb_trust_file" {
  description = "Path (on the machine that runs npx netboot ipxe build) of the PEM file with the root CA that issued the internal load balancer's certificate: the --trust of the iPXE build the ipxe_build output prints."
  type        = string
  default     = "internal-lb-ca.pem"
}

variable "internal_lb_http" {
  description = "Also listen on plain HTTP port 80: many stock iPXE builds cannot do HTTPS (use with ASSET_DELIVERY=proxy)."
  type        = bool
  default     = false
}

variable "internal_lb_cloud_armor" {
  description = "Attach the Cloud Armor rate-limiting policy to the internal load balancer's backends."
  type        = bool
  default     = true
}

variable "boot_rate_limit_per_minute" {
  description = "Cloud Armor: requests per minute one client IP may send; above it requests get 429."
  type        = number
  default     = 120
}

variable "boot_ban_threshold_per_minute" {
  description = "Cloud Armor: requests per minute above which a client IP is banned for boot_ban_duration_seconds."
  type        = number
  default     = 600
}

variable "boot_ban_duration_seconds" {
  description = "Cloud Armor: length of a ban."
  type        = number
  default     = 300
}

# ---------------------------------------------------------------------------
# Sweeper
# ---------------------------------------------------------------------------

variable "sweep_schedule" {
  description = "Cron schedule of the orphaned-blob sweep (blobsSweep)."
  type        = string
  default     = "0 * * * *"
}

variable "sweep_time_zone" {
  description = "Time zone of sweep_schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "otel_traces_exporter" {
  description = "OTEL_TRACES_EXPORTER: where spans go (gcp = Cloud Trace, otlp, console, none; comma-separated)."
  type        = string
  default     = "gcp"

  validation {
    condition     = can(regex("^(otlp|console|gcp|none)(,(otlp|console|gcp|none))*$", var.otel_traces_exporter))
    error_message = "otel_traces_exporter must list otlp, console, gcp or none."
  }
}

variable "otel_metrics_exporter" {
  description = "OTEL_METRICS_EXPORTER: where metrics go (gcp = Cloud Monitoring custom.googleapis.com/*, otlp, console, none)."
  type        = string
  default     = "gcp"

  validation {
    condition     = can(regex("^(otlp|console|gcp|none)(,(otlp|console|gcp|none))*$", var.otel_metrics_exporter))
    error_message = "otel_metrics_exporter must list otlp, console, gcp or none."
  }
}

variable "otel_bsp_schedule_delay" {
  description = "OTEL_BSP_SCHEDULE_DELAY: milliseconds a finished span waits for its batch. Short: CPU is throttled between requests."
  type        = number
  default     = 500
}

variable "otel_metric_export_interval" {
  description = "OTEL_METRIC_EXPORT_INTERVAL: milliseconds between metric exports (at least 5000: Cloud Monitoring's limit per series)."
  type        = number
  default     = 60000

  validation {
    condition     = var.otel_metric_export_interval >= 5000
    error_message = "otel_metric_export_interval must be at least 5000."
  }
}

# Fleet lifecycle (README, Fleet lifecycle; shared/lifecycle).
variable "boot_db_timeout_ms" {
  description = "BOOT_DB_TIMEOUT_MS: each Firestore call on the boot routes; past it, 503 service-unavailable with Retry-After."
  type        = number
  default     = 3000
}

variable "boot_record_ttl_seconds" {
  description = "BOOT_RECORD_TTL_SECONDS: how long a boot record (timeline, report tokens) lives; TTL policy on expire_at."
  type        = number
  default     = 604800
}

variable "boot_report_window_seconds" {
  description = "BOOT_REPORT_WINDOW_SECONDS: a boot's booting report is accepted this long after its script (60 to 86400)."
  type        = number
  default     = 900

  validation {
    condition     = var.boot_report_window_seconds >= 60 && var.boot_report_window_seconds <= 86400
    error_message = "boot_report_window_seconds must be between 60 and 86400."
  }
}

variable "boot_metadata_window_seconds" {
  description = "BOOT_METADATA_WINDOW_SECONDS: a boot's {{metadata_url}} answers this long after its script, never after installed (60 to 604800)."
  type        = number
  default     = 3600

  validation {
    condition     = var.boot_metadata_window_seconds >= 60 && var.boot_metadata_window_seconds <= 604800
    error_message = "boot_metadata_window_seconds must be between 60 and 604800."
  }
}

variable "discovery_ttl_seconds" {
  description = "DISCOVERY_TTL_SECONDS: how long a discovered MAC's record lives after its last write; TTL policy on expire_at."
  type        = number
  default     = 604800
}

variable "discovery_coalesce_seconds" {
  description = "DISCOVERY_COALESCE_SECONDS: per instance, a discovered MAC is written at most once per this many seconds."
  type        = number
  default     = 300
}

variable "discovery_writes_per_minute" {
  description = "DISCOVERY_WRITES_PER_MINUTE: per instance, discovery writes (1 read + 1 write each) per minute; 0 turns discovery off."
  type        = number
  default     = 60
}

# ---------------------------------------------------------------------------
# Alerts (monitoring.tf; runbooks in docs/operating.md)
# ---------------------------------------------------------------------------

variable "alert_email" {
  description = "An email address for the alert policies (a notification channel is created for it). Null: none."
  type        = string
  default     = null
}

variable "alert_notification_channels" {
  description = "Existing notification channels (projects/<p>/notificationChannels/<id>) the alert policies notify, besides alert_email."
  type        = list(string)
  default     = []
}

variable "runbook_url" {
  description = "Where your copy of docs/operating.md is published (e.g. https://github.com/<org>/<repo>/blob/main/docs/operating.md): each alert links its runbook there. Null: the alerts name the file only."
  type        = string
  default     = null
}

variable "alert_boot_script_error_ratio" {
  description = "Boot script server errors: alert when more than this share of boot script requests answers 5xx over 5 minutes."
  type        = number
  default     = 0.02
}

variable "alert_boot_completion_min_ratio" {
  description = "Boots that stop before booting: alert when the booting reports over 30 minutes are fewer than this share of the boot scripts served (local-boot scripts send no report: lower it for fleets that mostly boot from disk)."
  type        = number
  default     = 0.5
}

variable "alert_upload_mismatches" {
  description = "Upload verification mismatches: alert when more than this many upload sessions in 10 minutes end in a size or SHA-256 mismatch."
  type        = number
  default     = 0
}

variable "alert_rate_limit_refusals_per_second" {
  description = "Sustained rate-limit refusals: alert when one scope refuses more than this many requests per second for 15 minutes."
  type        = number
  default     = 1
}

variable "alert_boot_script_p95_seconds" {
  description = "Boot script p95 latency: alert when the 95th percentile of GET /boot.ipxe (measured in the function) stays above this for 10 minutes."
  type        = number
  default     = 1
}

variable "alert_saturation_audiences" {
  description = "Function instance saturation: the audiences (functions.json) whose functions get a policy each."
  type        = list(string)
  default     = ["boot"]
}

variable "alert_saturation_fraction" {
  description = "Function instance saturation: alert when a function runs at least this share of its max_instance_count for 5 minutes."
  type        = number
  default     = 0.8

  validation {
    condition     = var.alert_saturation_fraction > 0 && var.alert_saturation_fraction <= 1
    error_message = "alert_saturation_fraction must be in (0, 1]."
  }
}

variable "firestore_backup_retention_days" {
  description = "Daily backups of the (default) Firestore database are kept this many days (at most 98, Firestore's limit for daily schedules); 0: no backup schedule."
  type        = number
  default     = 7

  validation {
    condition     = var.firestore_backup_retention_days >= 0 && var.firestore_backup_retention_days <= 98
    error_message = "firestore_backup_retention_days must be between 0 and 98 (14 weeks, Firestore's limit for daily backups)."
  }
}

variable "console_origins" {
  description = "Origins of the fleet console (scheme://host, e.g. the gateway_url output) allowed by the blob bucket's CORS rule for browser uploads. Empty: no bucket CORS rule (upload sessions the console opens still answer CORS for its Origin)."
  type        = list(string)
  default     = []
}
