"""boto3 adapters behind the ports in remediator.ports. The only modules that import boto3."""
