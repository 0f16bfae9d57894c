output "gateway_url" {
  description = "Base URL of the API Gateway: the admin API is under /api/v1 (boot routes at /boot.ipxe and /asset/... only with boot_on_api_gateway)."
  value       = "https://${google_api_gateway_gateway.this.default_hostname}"
}

output "admin_token_audience" {
  description = "The audience admin ID tokens must carry (gcloud auth print-identity-token --audiences=...): admin_token_audience if set, otherwise this deployment's own."
  value       = local.admin_token_audience
}

output "ipxe_chain" {
  description = "The line to put in an embedded iPXE script (or type at the iPXE prompt) to boot through the public gateway; null unless boot_on_api_gateway (boot over the VPN: internal_lb_ipxe_chain)."
  value       = var.boot_on_api_gateway ? "chain https://${google_api_gateway_gateway.this.default_hostname}/boot.ipxe?mac=$${net0/mac}&arch=$${buildarch}&platform=$${platform}" : null
}

output "internal_lb_ipxe_chain" {
  description = "The iPXE chain line through the internal load balancer (HTTPS if a certificate is set, otherwise HTTP); null when it is disabled."
  value = var.enable_internal_lb ? format(
    "chain %s://%s/boot.ipxe?mac=$${net0/mac}&arch=$${buildarch}&platform=$${platform}",
    local.internal_lb_https ? "https" : "http",
    local.internal_lb_host,
  ) : null
}

output "internal_lb_address" {
  description = "Internal IP address of the load balancer; null when it is disabled."
  value       = try(google_compute_address.internal_lb[0].address, null)
}

output "function_urls" {
  description = "Direct URL of every function (callable only with an identity allowed to invoke it: the gateway, and for the sweeper Cloud Scheduler)."
  value       = local.function_uri
}

output "source_archive_object" {
  description = "Object the functions were built from; its name carries the archive's SHA-256 (compare with dist/function-source.zip.sha256)."
  value       = "gs://${google_storage_bucket.source.name}/${google_storage_bucket_object.source.name}"
}

output "blob_bucket" {
  description = "Bucket holding kernels and initrds."
  value       = google_storage_bucket.blobs.name
}

output "console_url" {
  description = "The fleet console (docs/console.md): served by the consoleAssets function behind the API Gateway, beside the admin API it calls."
  value       = "https://${google_api_gateway_gateway.this.default_hostname}/console/index.html"
}
