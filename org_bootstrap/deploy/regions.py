"""The regions a deployment can call home: AWS Config records the global IAM types there and offers both
managed rules. Pure.

AWS Config records AWS::IAM::User only "in AWS Regions where AWS Config was available before February 2022.
These resource types cannot be recorded in Regions supported by AWS Config after February 2022"
(https://docs.aws.amazon.com/config/latest/developerguide/select-resources.html#select-resources-all), and
IAM_USER_UNUSED_CREDENTIALS_CHECK is offered in "all supported AWS Regions except" those later ones: Asia
Pacific (New Zealand, Thailand, Hyderabad, Malaysia, Melbourne, Taipei), Middle East (UAE), Mexico
(Central), Israel (Tel Aviv), Canada West (Calgary), Europe (Spain, Zurich)
(https://docs.aws.amazon.com/config/latest/developerguide/iam-user-unused-credentials-check.html; the
same note on global IAM types heads access-keys-rotated.html). In such a region the member stack deploys,
but no user is ever evaluated: no event, no remediation, and nothing says so.

The table is of the regions, by partition, where Config was available before February 2022. A region
launched later belongs to the exceptions until AWS says otherwise: it is refused until added here.
"""

from __future__ import annotations

HOME_REGIONS = frozenset(
    {
        # aws
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "af-south-1",
        "ap-east-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ca-central-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-south-1",
        "eu-north-1",
        "me-south-1",
        "sa-east-1",
        # aws-us-gov
        "us-gov-east-1",
        "us-gov-west-1",
        # aws-cn
        "cn-north-1",
        "cn-northwest-1",
    }
)


def home_region_problem(region: str) -> str | None:
    """Why `region` cannot be the home region; None when it can."""
    if region in HOME_REGIONS:
        return None
    return (
        f"--home-region {region}: AWS Config cannot record AWS::IAM::User there (only in regions where "
        "Config was available before February 2022) or lacks the access-key rules, so no user would ever "
        f"be evaluated; choose one of {', '.join(sorted(HOME_REGIONS))}"
    )


def partition_of(region: str) -> str:
    """The partition of one of HOME_REGIONS."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


GLOBAL_EVENTS_REGION = "us-east-1"
"""Where IAM's CloudTrail events reach EventBridge in the aws partition: IAM is global and its events arrive
in us-east-1 only (https://repost.aws/knowledge-center/eventbridge-rule-triggers-iam-single-region). The
member stack's reactivation forwarding rule must be there (stacksets/member.yaml GlobalEventsRegion)."""


def global_events_region(home_region: str) -> str:
    """The region of the reactivation forwarding rule. Outside the aws partition the sources above say
    nothing: the home region, where the rule may never see an event (docs/aws-compatibility.md)."""
    return GLOBAL_EVENTS_REGION if partition_of(home_region) == "aws" else home_region


def member_regions(home_region: str) -> tuple[str, ...]:
    """The StackSet's regions: the home region, and the region of IAM's events when that is another one
    (its instance holds the reactivation forwarding rule alone)."""
    extra = global_events_region(home_region)
    return (home_region,) if extra == home_region else (home_region, extra)
