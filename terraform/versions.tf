terraform {
  # 1.5: strcontains(); optional() object attributes with defaults need 1.3.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # Checked offline against the 6.50 schema (../shared/tools/tfcheck).
      version = ">= 6.20, < 7.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }
}
