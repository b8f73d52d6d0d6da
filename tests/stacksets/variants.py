"""Parameter sets that switch on every optional branch of the templates, next to the defaults.

Shared by the tests (which resolve each variant) and by `make checkov`, which scans a copy of each template
with these values as parameter defaults: checkov evaluates Conditions with the defaults only, so resources
behind a default-off condition (the configuration recorder, the protected-path deny, tracing) would
otherwise go unscanned. Standard library only: the checkov venv runs this file.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

VARIANTS: dict[str, tuple[dict[str, str], ...]] = {
    "member": (
        {},
        {
            "Mode": "staged",
            "CreateConfigRecorder": "true",
            "ProtectedUserPath": "/break-glass/",
            "ExtraRuleNamePrefixes": (
                "securityhub-access-keys-rotated-,securityhub-iam-user-unused-credentials-check-"
            ),
        },
        {
            "Mode": "deactivate",
            "EnableAccessKeysRotatedRule": "false",
            "EnableUnusedCredentialsRule": "false",
        },
        {"Mode": "delete"},
    ),
    "central": (
        {},
        {
            "Tracing": "true",
            "CisPreset": "cis-1.4",
            "MaxKeyAgeDays": "60",
            "MaxUnusedDays": "30",
            "OptOutTagKey": "akr-opt-out",
            "ProtectedUserPath": "/break-glass/",
            "GraceDays": "0",
            "HomeRegion": "eu-west-1",
            "NotificationEmail": "security@example.com",
            "CodeObjectVersion": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            "CodeSigningProfileArn": (
                "arn:aws:signer:eu-west-1:222222222222:/signing-profiles/akr_code/a1B2c3D4e5"
            ),
            "RuleNamePrefixes": "akr-,securityhub-access-keys-rotated-",
            "WarnDaysBefore": "30",
            "EnableSweep": "false",
            "SweepSchedule": "cron(0 3 * * ? *)",
            "WorkerConcurrency": "50",
            "AuditWriterRoleArns": "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole",
            "AuditArchiveRetentionDays": "1",
            "AuditTrailBucketName": "akr-log-archive-trail-333333333333",
            "AuditArchiveReplicaBucketArn": "arn:aws:s3:::akr-log-archive-333333333333",
            "AuditArchiveReplicaKeyArn": (
                "arn:aws:kms:eu-west-1:333333333333:key/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
            ),
        },
    ),
    "organization": (
        {},
        {"CallAs": "DELEGATED_ADMIN", "RetainStacksOnAccountRemoval": "true", "CreateConfigRecorder": "true"},
    ),
}


def with_defaults(text: str, values: dict[str, str]) -> str:
    """The template text with these parameters' Default lines replaced."""
    for name, value in values.items():
        block = re.compile(rf"(^  {re.escape(name)}:\n(?:    .*\n)*?    Default: ).*$", re.MULTILINE)
        replacement = json.dumps(value).replace("\\", "\\\\")
        text, count = block.subn(rf"\g<1>{replacement}", text, count=1)
        if count != 1:
            raise KeyError(f"no Default line for parameter {name}")
    return text


def main(stacksets: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, variants in VARIANTS.items():
        text = (stacksets / f"{name}.yaml").read_text()
        for index, values in enumerate(variants):
            if values:
                (out / f"{name}-variant{index}.yaml").write_text(with_defaults(text, values))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
