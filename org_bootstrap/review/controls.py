"""The benchmark controls each rule answers for, as auditors' tooling names them. Pure.

A control is listed for a rule when the policy's limit is at most the control's own limit: enforcing the
policy then enforces the control, and a key within the policy passes it. A policy laxer than a control
(an unused limit of 90 days against the 45 of CIS v1.4+) does not claim it.

The numbers, per version of the CIS AWS Foundations Benchmark:
- rotation, 90 days: v1.2.0 1.4; v1.4.0 and v3.0.0 1.14; v5.0.0 1.13. AWS Security Hub IAM.3.
- unused, 90 days: v1.2.0 1.3; AWS Security Hub IAM.8.
- unused, 45 days: v1.4.0 and v3.0.0 1.12; v5.0.0 1.11. AWS Security Hub IAM.22.
Security Hub's control reference lists these as each control's related requirements:
https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html; the v5.0.0 numbering as in
prowler-cloud/prowler, prowler/compliance/aws/cis_5.0_aws.json (1.11 unused credentials, 1.13 rotation).
"""

from __future__ import annotations

from dataclasses import dataclass

from remediator.decision import Rule
from remediator.policy import Thresholds


@dataclass(frozen=True)
class Control:
    standard: str
    """"CIS AWS Foundations Benchmark v1.4.0", "AWS Security Hub"."""
    control_id: str
    """The number in that standard: "1.14", "IAM.3"."""
    rule: Rule
    limit_days: int

    @property
    def label(self) -> str:
        """One string per control, for CSV cells and tables: "CIS-1.4.0:1.14", "SecurityHub:IAM.3"."""
        if self.standard.startswith("CIS"):
            return f"CIS-{self.standard.rsplit(' v', 1)[1]}:{self.control_id}"
        return f"SecurityHub:{self.control_id}"


def _cis(version: str) -> str:
    return f"CIS AWS Foundations Benchmark v{version}"


SECURITY_HUB = "AWS Security Hub"
CONTROLS = (
    Control(_cis("1.2.0"), "1.4", Rule.ROTATION, 90),
    Control(_cis("1.4.0"), "1.14", Rule.ROTATION, 90),
    Control(_cis("3.0.0"), "1.14", Rule.ROTATION, 90),
    Control(_cis("5.0.0"), "1.13", Rule.ROTATION, 90),
    Control(SECURITY_HUB, "IAM.3", Rule.ROTATION, 90),
    Control(_cis("1.2.0"), "1.3", Rule.UNUSED, 90),
    Control(SECURITY_HUB, "IAM.8", Rule.UNUSED, 90),
    Control(_cis("1.4.0"), "1.12", Rule.UNUSED, 45),
    Control(_cis("3.0.0"), "1.12", Rule.UNUSED, 45),
    Control(_cis("5.0.0"), "1.11", Rule.UNUSED, 45),
    Control(SECURITY_HUB, "IAM.22", Rule.UNUSED, 45),
)


def limit_of(rule: Rule, thresholds: Thresholds) -> int:
    return thresholds.max_key_age_days if rule is Rule.ROTATION else thresholds.max_unused_days


def controls_for(rules: tuple[Rule, ...], thresholds: Thresholds) -> tuple[Control, ...]:
    """The controls that the policy's limits for `rules` enforce, in CONTROLS order."""
    return tuple(
        control
        for control in CONTROLS
        if control.rule in rules and limit_of(control.rule, thresholds) <= control.limit_days
    )


ALL_RULES = (Rule.ROTATION, Rule.UNUSED)
