"""The security team's command line: deploy, review and demonstrate the organization-wide remediation."""
