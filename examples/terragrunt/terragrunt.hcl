# A Terragrunt unit for the bundled example configuration, with tfdrift-hook run
# around `plan` and `apply` by Terragrunt's own hooks. README.md beside this file
# explains each hook and what it relies on.

locals {
  # The saved plan. `terragrunt plan` writes it (extra_arguments below);
  # post-plan reads it, and so does pre-apply when it is what gets applied.
  plan_file = "tfdrift.tfplan"

  # Hooks run in the copy under .terragrunt-cache, which Terragrunt may replace at
  # any time, so the settings (and, through them, the receipt) live beside this file.
  tfdrift_config = "${get_terragrunt_dir()}/.tfdrift.yml"
}

terraform {
  source = "${get_terragrunt_dir()}/../terraform"

  # The example directory carries the state of a test run against a fake AWS; it
  # must not become the state of a real account.
  exclude_from_copy = ["terraform.tfstate", "*.tfstate.backup"]

  extra_arguments "tfdrift_saved_plan" {
    commands  = ["plan"]
    arguments = ["-out=${local.plan_file}"]
  }

  # Before the plan: the out-of-band changes since the last apply.
  before_hook "tfdrift_pre_plan" {
    commands = ["plan"]
    execute  = ["tfdrift-hook", "pre-plan", "--config", local.tfdrift_config]
  }

  # After a plan that succeeded: each drifted attribute matched to the events that
  # made it. tfdrift-hook runs `terraform show -json` on the saved plan itself.
  after_hook "tfdrift_post_plan" {
    commands = ["plan"]
    execute = [
      "tfdrift-hook", "post-plan", "--config", local.tfdrift_config,
      "--plan", local.plan_file,
    ]
  }

  # `terragrunt apply tfdrift.tfplan`: the check and the guardrails on that plan.
  before_hook "tfdrift_pre_apply_saved_plan" {
    commands = ["apply"]
    if       = contains(get_terraform_cli_args(), local.plan_file)
    execute = [
      "tfdrift-hook", "pre-apply", "--config", local.tfdrift_config,
      "--plan", local.plan_file,
    ]
  }

  # Any other apply or destroy: Terraform plans inside the command, so there is no
  # plan to judge beforehand; the check still runs.
  before_hook "tfdrift_pre_apply" {
    commands = ["apply", "destroy"]
    if       = !contains(get_terraform_cli_args(), local.plan_file)
    execute  = ["tfdrift-hook", "pre-apply", "--config", local.tfdrift_config]
  }

  # After an apply that succeeded: the receipt. Terragrunt tells an after_hook
  # nothing about how the command ended, so this hook must not run after a
  # failure: post-apply would take the apply for a success and write a receipt.
  after_hook "tfdrift_post_apply" {
    commands     = ["apply", "destroy"]
    run_on_error = false
    execute      = ["tfdrift-hook", "post-apply", "--config", local.tfdrift_config]
  }

  # After an apply that failed: post-apply hears of the failure and writes no
  # receipt. Terragrunt does not pass Terraform's exit code on, so 1 stands for
  # "failed".
  error_hook "tfdrift_post_apply_failed" {
    commands  = ["apply", "destroy"]
    on_errors = [".*"]
    execute = [
      "tfdrift-hook", "post-apply", "--config", local.tfdrift_config,
      "--exit-code", "1",
    ]
  }
}
