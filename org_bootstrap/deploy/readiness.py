"""The pre-flight's reads: read-only looks at what the plan needs from the security account and the target
accounts, turned into org_bootstrap.deploy.preflight's problems. Nothing here changes AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import Aws, CliError, describe
from org_bootstrap.deploy.concurrency import LambdaQuota, quota_problem
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.observed import Observed
from org_bootstrap.deploy.organization import security_session
from org_bootstrap.deploy.plan import Plan
from org_bootstrap.deploy.preflight import Preflight

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


def check_readiness(aws: Aws, deployment: Deployment, observed: Observed, plan: Plan) -> Preflight:
    problems: list[str] = []
    if plan.reserving > 0:
        security = security_session(aws, deployment, observed.caller_account)
        quota = read_lambda_quota(aws.lambda_(security, deployment.home_region))
        problem = quota_problem(quota, adding=plan.reserving, security_account=deployment.security_account_id)
        problems += [problem] if problem else []
    return Preflight(problems=tuple(problems))


def read_lambda_quota(client: LambdaClient) -> LambdaQuota:
    try:
        limit = client.get_account_settings()["AccountLimit"]
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read the security account's Lambda quota: {describe(exc)}") from exc
    return LambdaQuota(
        concurrent_executions=limit.get("ConcurrentExecutions", 0),
        unreserved_concurrent_executions=limit.get("UnreservedConcurrentExecutions", 0),
    )
