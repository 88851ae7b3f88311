variable "name" {
  description = "Short name; the alias is alias/<name>."
  type        = string
}

variable "description" {
  description = "Key description."
  type        = string
}

variable "account_root" {
  description = "ARN of the account root that keeps full access to the key."
  type        = string
}

variable "log_service" {
  description = "Service principal allowed to use the key for log encryption."
  type        = string
}
