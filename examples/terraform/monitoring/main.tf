# Pages on KMS changes between Terraform runs: CloudTrail hands every KMS management
# call to EventBridge, a rule picks the calls that change keys and aliases, and SNS
# tells people. A CloudWatch alarm on the rule's TriggeredRules metric turns the
# same events into an alarm that dashboards and on-call tools already watch.

data "aws_caller_identity" "current" {}

locals {
  # A pipeline role's calls arrive as assumed-role sessions; its ARN is the
  # session issuer's. anything-but never matches a field that is absent, so an IAM
  # user's call (no session) needs the exists-false branch to still match.
  # anything-but needs a non-empty list: the key is left out when no role is ignored.
  caller_filter = length(var.ignored_role_arns) == 0 ? {} : {
    userIdentity = {
      sessionContext = {
        sessionIssuer = {
          arn = [{ "anything-but" = var.ignored_role_arns }, { exists = false }]
        }
      }
    }
  }

  patterns = {
    changes  = var.event_names
    critical = var.critical_event_names
  }
}

resource "aws_cloudwatch_event_rule" "kms" {
  for_each = local.patterns

  name        = "${var.name_prefix}-${each.key}"
  description = "KMS ${each.key} calls made through the API (CloudTrail), for tfdrift-hook's alarms."
  event_pattern = jsonencode({
    source        = ["aws.kms"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = merge(
      { eventSource = ["kms.amazonaws.com"], eventName = each.value },
      local.caller_filter,
    )
  })
  tags = var.tags
}

resource "aws_sns_topic" "alerts" {
  name = "${var.name_prefix}-alerts"
  tags = var.tags
}

data "aws_iam_policy_document" "alerts" {
  statement {
    sid       = "EventBridgePublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.kms["changes"].arn]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# Every change, one message each, readable without opening the console.
resource "aws_cloudwatch_event_target" "alerts" {
  rule      = aws_cloudwatch_event_rule.kms["changes"].name
  target_id = "sns"
  arn       = aws_sns_topic.alerts.arn

  input_transformer {
    input_paths = {
      event   = "$.detail.eventName"
      caller  = "$.detail.userIdentity.arn"
      key     = "$.detail.requestParameters.keyId"
      time    = "$.detail.eventTime"
      account = "$.account"
      region  = "$.region"
    }
    input_template = "\"KMS <event> on <key> by <caller> at <time> (account <account>, <region>). Run tfdrift-hook check to see whether Terraform made it.\""
  }
}

resource "aws_cloudwatch_metric_alarm" "kms" {
  for_each = aws_cloudwatch_event_rule.kms

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = "KMS ${each.key} calls matched by EventBridge rule ${each.value.name}; see the SNS message or run tfdrift-hook check for who and what."
  namespace           = "AWS/Events"
  metric_name         = "TriggeredRules"
  dimensions          = { RuleName = each.value.name }
  statistic           = "Sum"
  period              = var.period_seconds
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # No datapoint means no matched call, which is the healthy state.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_sns_topic.alerts.arn]
  tags               = var.tags
}
