"""tfdrift-hook: who changed Terraform-managed KMS keys and aliases outside Terraform.

The package reads Terraform's view of the KMS resources it manages, reads the CloudTrail
management events of a window, and reports which of those resources were changed outside
Terraform, by whom and when. The command line lives in :mod:`tfdrift_hook.cli`; plugin
authors start from :mod:`tfdrift_hook.hookspecs`.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
