variable "name_prefix" {
  description = "Prefix of the names of the EventBridge rules, SNS topic and alarms."
  type        = string
  default     = "tfdrift-kms"
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the topic (each must confirm once)."
  type        = list(string)
  default     = []
}

variable "event_names" {
  description = "KMS calls that count as changes: the 13 of the KMS drift coverage, and the others that change a key or alias."
  type        = list(string)
  default = [
    "CreateKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DisableKey",
    "EnableKey",
    "PutKeyPolicy",
    "CreateAlias",
    "DeleteAlias",
    "UpdateAlias",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "TagResource",
    "UntagResource",
    "UpdateKeyDescription",
    "CreateGrant",
    "RevokeGrant",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "ReplicateKey",
    "UpdatePrimaryRegion",
  ]
}

variable "critical_event_names" {
  description = "The calls that page on their own alarm: deletion and policy changes are critical."
  type        = list(string)
  default     = ["ScheduleKeyDeletion", "PutKeyPolicy", "DisableKey"]
}

variable "ignored_role_arns" {
  description = "IAM roles whose calls are not alarmed, such as the role the Terraform pipeline assumes. Leave empty to alarm on every caller."
  type        = list(string)
  default     = []
}

variable "period_seconds" {
  description = "The alarms' period: how long one matched event keeps an alarm in ALARM."
  type        = number
  default     = 300
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
