terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.10.0, < 8.0.0"
    }
    # API Gateway resources exist only in the beta provider.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.10.0, < 8.0.0"
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
