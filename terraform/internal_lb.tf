# Optional (var.enable_internal_lb): the boot routes on a regional internal Application
# Load Balancer, for machines that reach the VPC over a VPN. Serverless NEGs point at the
# boot functions, the URL map routes each boot path of the route table to its function,
# Cloud Armor rate-limits each client address, and the boot functions then admit only
# internal and load-balancer traffic (ALLOW_INTERNAL_AND_GCLB, see functions.tf); their
# operations on the public gateway stop answering. Their private-range egress goes
# through a Serverless VPC Access connector (for example to a mirror behind the VPN).
locals {
  internal_lb = var.enable_internal_lb ? 1 : 0
  # HTTPS from a PEM certificate and key, or from a Certificate Manager certificate.
  internal_lb_https = var.enable_internal_lb && (var.internal_lb_tls_certificate != null || var.internal_lb_certificate_manager_certificate != null)
  internal_lb_http  = var.enable_internal_lb && var.internal_lb_http

  # Every boot route of the route table: the URL map's route rules (their paths are
  # disjoint, so their order does not matter). Unmatched paths go to the first boot
  # function, which answers 404 like any function does for a path not its own.
  boot_routes = flatten([
    for name, f in local.boot_functions : [
      for r in f.routes : { function = name, path = r.path }
    ]
  ])

  internal_lb_host = var.internal_lb_hostname != null ? var.internal_lb_hostname : try(google_compute_address.internal_lb[0].address, null)
}

resource "google_vpc_access_connector" "boot" {
  count = local.internal_lb

  name          = "${var.name_prefix}-boot"
  region        = var.region
  network       = var.network
  ip_cidr_range = var.vpc_connector_cidr
  machine_type  = "e2-micro"
  min_instances = 2
  max_instances = 3

  depends_on = [google_project_service.api]
}

# Regional internal Application Load Balancers need one proxy-only subnet per region and
# network; create it here unless the network has one.
resource "google_compute_subnetwork" "proxy_only" {
  count = var.enable_internal_lb && var.proxy_only_subnet_cidr != null ? 1 : 0

  name          = "${var.name_prefix}-proxy-only"
  region        = var.region
  network       = var.network
  ip_cidr_range = var.proxy_only_subnet_cidr
  purpose       = "REGIONAL_MANAGED_PROXY"
  role          = "ACTIVE"

  depends_on = [google_project_service.api]
}

resource "google_compute_region_network_endpoint_group" "boot" {
  for_each = { for name, f in local.boot_functions : name => f if var.enable_internal_lb }

  name                  = "${var.name_prefix}-${each.value.name}"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = local.run_service[each.key]
  }

  depends_on = [google_project_service.api]
}

# One rate-based rule per client address: above boot_rate_limit_per_minute requests get
# 429; above boot_ban_threshold_per_minute the address is banned for
# boot_ban_duration_seconds. A booting machine sends a handful of requests (script,
# kernel, initrd), so the limits only bite on loops and floods. Machines behind one NAT
# share an address: raise the limits for them.
resource "google_compute_region_security_policy" "boot" {
  provider = google-beta
  count    = var.enable_internal_lb && var.internal_lb_cloud_armor ? 1 : 0

  name        = "${var.name_prefix}-boot"
  region      = var.region
  type        = "CLOUD_ARMOR"
  description = "Per-client rate limits for the netboot boot routes."

  rules {
    priority    = 1000
    action      = "rate_based_ban"
    description = "Throttle, then ban, clients that send too many requests."

    match {
      versioned_expr = "SRC_IPS_V1"

      config {
        src_ip_ranges = ["*"]
      }
    }

    rate_limit_options {
      conform_action   = "allow"
      exceed_action    = "deny(429)"
      enforce_on_key   = "IP"
      ban_duration_sec = var.boot_ban_duration_seconds

      rate_limit_threshold {
        count        = var.boot_rate_limit_per_minute
        interval_sec = 60
      }

      ban_threshold {
        count        = var.boot_ban_threshold_per_minute
        interval_sec = 60
      }
    }
  }

  rules {
    priority    = 2147483647
    action      = "allow"
    description = "Default: allow; the boot functions check BOOT_ALLOWED_CIDRS themselves."

    match {
      versioned_expr = "SRC_IPS_V1"

      config {
        src_ip_ranges = ["*"]
      }
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_compute_region_backend_service" "boot" {
  # security_policy on this resource is in google-beta only (provider 6.50.0).
  provider = google-beta
  for_each = { for name, f in local.boot_functions : name => f if var.enable_internal_lb }

  name                  = "${var.name_prefix}-${each.value.name}"
  region                = var.region
  load_balancing_scheme = "INTERNAL_MANAGED"
  protocol              = "HTTP"
  security_policy       = var.internal_lb_cloud_armor ? google_compute_region_security_policy.boot[0].self_link : null

  backend {
    group           = google_compute_region_network_endpoint_group.boot[each.key].id
    balancing_mode  = "UTILIZATION"
    capacity_scaler = 1.0
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_region_url_map" "boot" {
  count = local.internal_lb

  name            = "${var.name_prefix}-boot"
  region          = var.region
  default_service = google_compute_region_backend_service.boot[local.boot_routes[0].function].id

  host_rule {
    hosts        = ["*"]
    path_matcher = "boot"
  }

  path_matcher {
    name            = "boot"
    default_service = google_compute_region_backend_service.boot[local.boot_routes[0].function].id

    dynamic "route_rules" {
      for_each = local.boot_routes

      content {
        priority = route_rules.key + 1
        service  = google_compute_region_backend_service.boot[route_rules.value.function].id

        # The front door's mark (issue 21): only requests that came through here carry it, so
        # a boot function counts this load balancer's X-Forwarded-For hop only for them.
        # `replace`: a client's own X-Netboot-Front-Door is overwritten, never passed on.
        header_action {
          request_headers_to_add {
            header_name  = "X-Netboot-Front-Door"
            header_value = var.front_door_secret
            replace      = true
          }
        }

        match_rules {
          full_path_match     = strcontains(route_rules.value.path, "{") ? null : route_rules.value.path
          path_template_match = strcontains(route_rules.value.path, "{") ? route_rules.value.path : null
        }
      }
    }
  }
}

resource "google_compute_address" "internal_lb" {
  count = local.internal_lb

  name         = "${var.name_prefix}-boot-lb"
  region       = var.region
  subnetwork   = var.internal_lb_subnetwork
  address_type = "INTERNAL"
  address      = var.internal_lb_address
  # Shared by the HTTPS and HTTP forwarding rules.
  purpose = "SHARED_LOADBALANCER_VIP"

  lifecycle {
    precondition {
      condition     = var.internal_lb_subnetwork != null
      error_message = "enable_internal_lb needs internal_lb_subnetwork."
    }
    precondition {
      condition     = var.internal_lb_tls_certificate != null || var.internal_lb_certificate_manager_certificate != null || var.internal_lb_http
      error_message = "enable_internal_lb needs a listener: set internal_lb_tls_certificate/internal_lb_tls_private_key (or internal_lb_certificate_manager_certificate), internal_lb_http = true, or both."
    }
    precondition {
      condition     = var.internal_lb_tls_certificate == null || var.internal_lb_certificate_manager_certificate == null
      error_message = "Give the internal load balancer's certificate once: internal_lb_tls_certificate/internal_lb_tls_private_key (PEM) or internal_lb_certificate_manager_certificate, not both."
    }
    precondition {
      condition     = (var.internal_lb_tls_certificate == null) == (var.internal_lb_tls_private_key == null)
      error_message = "internal_lb_tls_certificate and internal_lb_tls_private_key go together."
    }
  }
}

resource "google_compute_region_ssl_certificate" "internal_lb" {
  count = local.internal_lb_https && var.internal_lb_tls_certificate != null ? 1 : 0

  name_prefix = "${var.name_prefix}-boot-"
  region      = var.region
  certificate = var.internal_lb_tls_certificate
  private_key = var.internal_lb_tls_private_key

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_region_target_https_proxy" "boot" {
  count = local.internal_lb_https ? 1 : 0

  name    = "${var.name_prefix}-boot-https"
  region  = var.region
  url_map = google_compute_region_url_map.boot[0].id
  # One of the two: the PEM pair uploaded above, or the Certificate Manager certificate.
  ssl_certificates                 = var.internal_lb_tls_certificate != null ? [google_compute_region_ssl_certificate.internal_lb[0].id] : null
  certificate_manager_certificates = var.internal_lb_certificate_manager_certificate != null ? [var.internal_lb_certificate_manager_certificate] : null
}

resource "google_compute_forwarding_rule" "boot_https" {
  count = local.internal_lb_https ? 1 : 0

  name                  = "${var.name_prefix}-boot-https"
  region                = var.region
  load_balancing_scheme = "INTERNAL_MANAGED"
  ip_protocol           = "TCP"
  port_range            = "443"
  network               = var.network
  subnetwork            = var.internal_lb_subnetwork
  ip_address            = google_compute_address.internal_lb[0].address
  target                = google_compute_region_target_https_proxy.boot[0].id

  depends_on = [google_compute_subnetwork.proxy_only]
}

resource "google_compute_region_target_http_proxy" "boot" {
  count = local.internal_lb_http ? 1 : 0

  name    = "${var.name_prefix}-boot-http"
  region  = var.region
  url_map = google_compute_region_url_map.boot[0].id
}

resource "google_compute_forwarding_rule" "boot_http" {
  count = local.internal_lb_http ? 1 : 0

  name                  = "${var.name_prefix}-boot-http"
  region                = var.region
  load_balancing_scheme = "INTERNAL_MANAGED"
  ip_protocol           = "TCP"
  port_range            = "80"
  network               = var.network
  subnetwork            = var.internal_lb_subnetwork
  ip_address            = google_compute_address.internal_lb[0].address
  target                = google_compute_region_target_http_proxy.boot[0].id

  depends_on = [google_compute_subnetwork.proxy_only]
}
