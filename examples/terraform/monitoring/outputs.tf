output "topic_arn" {
  description = "The SNS topic alerts go to; subscribe pagers or chat here."
  value       = aws_sns_topic.alerts.arn
}

output "rule_names" {
  description = "The EventBridge rules, by kind (changes, critical)."
  value       = { for kind, rule in aws_cloudwatch_event_rule.kms : kind => rule.name }
}

output "alarm_names" {
  description = "The CloudWatch alarms, by kind (changes, critical)."
  value       = { for kind, alarm in aws_cloudwatch_metric_alarm.kms : kind => alarm.alarm_name }
}
