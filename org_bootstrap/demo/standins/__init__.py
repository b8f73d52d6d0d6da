"""Stand-ins for what moto lacks, in one place so that they stay visible. Everything else in the demo is
the real thing: the templates deployed by `akr deploy`, the rules and targets they create, the handlers.

- Config (`config.ConfigEvaluator`, `config.register_member_config`): moto stores rules but never
  evaluates them, and its CloudFormation skips AWS::Config::*. `register_member_config` puts the member
  stack's two rules into each account (and a recording recorder: the stack's own, or the one an
  organization already has), so that `akr status` sees a covered organization. The evaluator applies
  the managed rules' semantics (ACCESS_KEYS_ROTATED, IAM_USER_UNUSED_CREDENTIALS_CHECK: per user, on
  active keys) to the IAM state, remembers each user's compliance, and puts a "Config Rules Compliance
  Change" event onto the member's default bus only when it changes, as Config does. From there the
  deployed forwarding rule carries it, or not.
- Lambda (`runtime.LocalRuntime`): moto stores functions but runs no code without Docker. The runtime
  runs a function the way Lambda would: its handler, from this installation; its environment variables,
  as deployed; its role's credentials, assumed through STS; a cold start (a fresh import of the handler
  module) per runtime. Events for a function are queued and run by `drain()`, as asynchronous invocations
  are; a scheduled rule's targets get a "Scheduled Event"; the sweep queue's messages go, in batches, to
  the function its event source mapping names.
- EventBridge, Organizations and SQS (`moto_patches`): moto's own behaviour patched in place where it
  differs from AWS in what the demo goes through: delivery to another account's bus and to Lambda,
  ListAccounts in a delegated administrator, and the SQS event source mappings.

Four smaller gaps are worked around where they arise, in org_bootstrap/demo/organization.py: moto has no
cloudformation:ActivateOrganizationsAccess (Organizations' EnableAWSServiceAccess stands in; deploy's own
call is covered by a Stubber test), its StackSets deploy to the management account too when the root
is targeted (the demo targets every OU instead, as an organization may), and it denies every object request
under a bucket policy statement with a condition (`moto_server` leaves the code bucket's conditional
statements out of moto's checks, for the command-line tests too), and a stack update that keeps a parameter
moto holds only as its default fails in moto (`moto_server` lets moto take the default).
"""

from org_bootstrap.demo.standins.config import ConfigEvaluator, register_member_config
from org_bootstrap.demo.standins.moto_patches import (
    delegated_list_accounts,
    faithful_delivery,
    local_event_sources,
)
from org_bootstrap.demo.standins.runtime import Invocation, LocalRuntime

__all__ = [
    "ConfigEvaluator",
    "Invocation",
    "LocalRuntime",
    "delegated_list_accounts",
    "faithful_delivery",
    "local_event_sources",
    "register_member_config",
]
