terraform {
  # 1.5: strcontains(); optional() object attributes with defaults need 1.3.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # Checked offline against the 6.50 schema (../shared/tools/tfcheck).
      version = ">= 6.20, < 7.0"
    }
    # google_project_service_identity exists only in the beta provider:
    # https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/project_service_identity
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.20, < 7.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
    # time_sleep (IAM propagation before the functions) and time_static (organisation record timestamps):
    # https://registry.terraform.io/providers/hashicorp/time/latest/docs
    time = {
      source  = "hashicorp/time"
      version = ">= 0.9, < 1.0"
    }
  }
}
