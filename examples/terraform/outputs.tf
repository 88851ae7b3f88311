output "app_key_arns" {
  description = "Key ARN of each application key."
  value       = { for name, key in aws_kms_key.app : name => key.arn }
}

output "audit_logs_key_arn" {
  description = "Key ARN of the audit log key."
  value       = module.audit_logs.key_arn
}
