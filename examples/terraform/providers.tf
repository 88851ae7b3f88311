# Credentials come from the usual AWS environment (profile, SSO, instance role).
# To run against a local moto server instead, a `moto_override.tf` is written
# beside this file; see README.md.
provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
