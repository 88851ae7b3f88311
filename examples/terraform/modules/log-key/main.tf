# A key whose policy lives in its own aws_kms_key_policy resource, so that the
# policy can grant a service that needs the key ARN in a condition.
resource "aws_kms_key" "this" {
  description             = var.description
  deletion_window_in_days = 7
  enable_key_rotation     = true

  tags = {
    Application = var.name
    Team        = "security"
    DataClass   = "audit"
  }
}

resource "aws_kms_key_policy" "this" {
  key_id = aws_kms_key.this.id
  policy = <<-POLICY
    {
      "Version": "2012-10-17",
      "Id": "${var.name}-key-policy",
      "Statement": [
        {
          "Sid": "AccountRootFullAccess",
          "Effect": "Allow",
          "Principal": {"AWS": "${var.account_root}"},
          "Action": "kms:*",
          "Resource": "*"
        },
        {
          "Sid": "LogServiceEncrypt",
          "Effect": "Allow",
          "Principal": {"Service": "${var.log_service}"},
          "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:Describe*"],
          "Resource": "*",
          "Condition": {
            "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*:*:*"}
          }
        }
      ]
    }
  POLICY
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
