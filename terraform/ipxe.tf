# The iPXE build each enabled front door needs (docs/booting/dhcp.md): its URL and the roots
# its certificates chain to. `terraform output ipxe_build` prints the commands.
# - internal load balancer, HTTPS: the operator's CA (var.ipxe_internal_lb_trust_file), the
#   CA that issued internal_lb_tls_certificate or the Certificate Manager certificate;
# - internal load balancer, HTTP: no trust, --insecure-http (a trusted boot network only);
# - API Gateway: Google's roots (its certificates chain to GTS / GlobalSign);
# - redirect mode (asset_delivery = "redirect") sends machines to signed Storage URLs on
#   https://storage.googleapis.com: Google's roots as well, whatever the front door.
locals {
  gateway_host        = google_api_gateway_gateway.this.default_hostname
  ipxe_redirect_trust = var.asset_delivery == "redirect" ? ["--trust-google"] : []

  # Front door -> the build's arguments after `npx netboot ipxe build`.
  ipxe_front_doors = merge(
    var.boot_on_api_gateway ? { api_gateway = ["--url", "https://${local.gateway_host}", "--trust-google"] } : {},
    local.internal_lb_https ? { internal_lb_https = concat(["--url", "https://${local.internal_lb_host}", "--trust", var.ipxe_internal_lb_trust_file], local.ipxe_redirect_trust) } : {},
    local.internal_lb_http ? { internal_lb_http = concat(["--url", "http://${local.internal_lb_host}", "--insecure-http"], local.ipxe_redirect_trust) } : {},
  )
}

output "ipxe_build" {
  description = "Per enabled front door (api_gateway, internal_lb_https, internal_lb_http): the exact npx netboot ipxe build command for it (URL and trust); then npx netboot ipxe publish on its --out directory for UEFI HTTP Boot, and npx netboot ipxe dhcp for the DHCP server."
  value       = { for door, args in local.ipxe_front_doors : door => join(" ", concat(["npx", "netboot", "ipxe", "build"], args, ["--out", "ipxe-${replace(door, "_", "-")}"])) }
}
