terraform {
  required_version = ">= 1.5.0"

  required_providers {
    # Pinned to the schema scripts/terraform-schema/check.ts checks against
    # (terraform/schema/google-6.50.0.json.gz; docs/deploying.md, The schema check).
    google = {
      source  = "hashicorp/google"
      version = "6.50.0"
    }
    # API Gateway resources exist only in the beta provider.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "6.50.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}
