variable "region" {
  description = "Region the keys live in."
  type        = string
  default     = "us-east-1"
}

variable "app_keys" {
  description = "One customer managed key and alias per application."
  type = map(object({
    description = string
    team        = string
  }))
  default = {
    payments = {
      description = "Card payment tokens"
      team        = "payments"
    }
    ledger = {
      description = "General ledger exports"
      team        = "finance-platform"
    }
  }
}
