# Max instances of the boot path come from variables, so a fleet larger than the design point
# is one -var away (boot_max_instances, asset_max_instances: their defaults follow the storm
# model, bench/storm/model.ts; docs/performance.md, Boot storms). Every other function keeps
# the max_instances of functions.json; functions.tf merges these over it.
locals {
  max_instances_from_variables = {
    bootScript  = var.boot_max_instances
    bootReport  = var.boot_max_instances
    assetKernel = var.asset_max_instances
    assetInitrd = var.asset_max_instances
  }
}
