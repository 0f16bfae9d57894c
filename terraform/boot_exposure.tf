# Who can reach the boot routes, through which front door, and how many X-Forwarded-For
# hops each function trusts. Depends only on variables and functions.json, so that
# test/infra/boot-exposure.test.ts can evaluate it with a real Terraform (no providers).
locals {
  # Fail closed: without a front door for the boot routes, and ranges named for it, no
  # address may boot. Behind the internal load balancer (the VPN) the private ranges are
  # the default; on the public gateway the operator must name ranges (boot_front_door in
  # this file refuses the plan otherwise); every address only with boot_allow_any_address.
  private_ranges   = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
  boot_cidrs_given = var.boot_allowed_cidrs == null ? [] : var.boot_allowed_cidrs
  boot_allowed_cidrs = distinct(concat(
    var.boot_allowed_cidrs != null ? var.boot_allowed_cidrs : var.enable_internal_lb ? local.private_ranges : [],
    var.boot_allow_any_address ? ["0.0.0.0/0", "::/0"] : [],
  ))

  # Each function has exactly one front door, and its TRUSTED_PROXY_HOPS is that front
  # door's: how many X-Forwarded-For entries Google's front ends append after the client's
  # address (README, Security: Platform facts). Admin and health functions: API Gateway.
  # Boot functions: the internal load balancer when enabled, else API Gateway (only with
  # boot_on_api_gateway; otherwise the gateway may not invoke them). The sweeper: its own
  # URL, called by Cloud Scheduler (it never reads the client address).
  front_door = {
    for name, f in local.functions : name => (
      f.audience == "internal" ? "function_url" :
      f.audience == "boot" && var.enable_internal_lb ? "internal_lb" : "api_gateway"
    )
  }
  front_door_hops = {
    api_gateway  = var.trusted_proxy_hops_api_gateway
    internal_lb  = var.trusted_proxy_hops_internal_lb
    function_url = 1
  }
}

# Refuses, at plan time, a deployment whose boot routes are open to the internet or have no
# front door at all. Values are all variables, so Terraform checks these in `plan`.
resource "terraform_data" "boot_front_door" {
  input = {
    front_door = var.enable_internal_lb ? "internal_lb" : var.boot_on_api_gateway ? "api_gateway" : "none"
    cidrs      = local.boot_allowed_cidrs
  }

  lifecycle {
    precondition {
      condition     = var.enable_internal_lb || var.boot_on_api_gateway
      error_message = "The boot routes (/boot.ipxe, /asset/...) have no front door, so no machine could boot. Boot over the VPN (recommended): set enable_internal_lb = true, internal_lb_subnetwork and a listener (internal_lb_tls_certificate/internal_lb_tls_private_key or internal_lb_http = true); see terraform/README.md. Or publish them on the public API Gateway: boot_on_api_gateway = true and boot_allowed_cidrs = [your boot networks' egress ranges]."
    }
    precondition {
      condition     = !(var.enable_internal_lb && var.boot_on_api_gateway)
      error_message = "Set only one of enable_internal_lb and boot_on_api_gateway: each boot function has one front door, whose X-Forwarded-For hop count it trusts, and behind the internal load balancer it admits unauthenticated internal traffic."
    }
    precondition {
      condition     = !var.enable_internal_lb || var.front_door_secret != null
      error_message = "enable_internal_lb needs front_door_secret (32-128 characters of A-Z a-z 0-9 _ -, e.g. openssl rand -base64 48 | tr '+/' '-_' | tr -d '='): the load balancer marks its requests with it, and without it a VPC host calling a boot function's own URL could choose its client address."
    }
    precondition {
      condition     = !var.boot_on_api_gateway || length(local.boot_cidrs_given) > 0 || var.boot_allow_any_address
      error_message = "boot_on_api_gateway publishes the boot routes on the internet: set boot_allowed_cidrs = [\"203.0.113.0/24\", ...] to your boot networks' egress ranges (or, to admit every address on purpose, boot_allow_any_address = true)."
    }
  }
}
