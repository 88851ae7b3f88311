locals {
  account_root = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"
}

resource "aws_kms_key" "app" {
  for_each = var.app_keys

  description             = each.value.description
  deletion_window_in_days = 30
  enable_key_rotation     = true

  policy = jsonencode({
    Version = "2012-10-17"
    Id      = "${each.key}-key-policy"
    Statement = [
      {
        Sid       = "AccountRootFullAccess"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action    = "kms:*"
        Resource  = "*"
      },
    ]
  })

  tags = {
    Application = each.key
    Team        = each.value.team
    Environment = "prod"
  }
}

resource "aws_kms_alias" "app" {
  for_each = var.app_keys

  name          = "alias/${each.key}"
  target_key_id = aws_kms_key.app[each.key].key_id
}

module "audit_logs" {
  source = "./modules/log-key"

  name         = "audit-logs"
  description  = "CloudTrail and application audit log encryption"
  account_root = local.account_root
  log_service  = "logs.${var.region}.amazonaws.com"
}
