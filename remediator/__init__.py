"""Central remediation of IAM access keys that break the CIS AWS Foundations Benchmark."""

__version__ = "0.1.0"
