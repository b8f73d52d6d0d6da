"""SnapStart in the central stack: the operator's choice (akr deploy --snapstart / --no-snapstart), the digest
that names the published versions, and what turning it on or off changes, in words. Pure.

The choice is kept across deploys: without the option the parameter is not sent, and the update keeps the
deployed value (UsePreviousValue); a first deploy gets the template's default, off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from org_bootstrap.deploy.deployment import settings_digest, template_parameters

SNAPSTART = "SnapStart"

SNAPSTART_ON = (
    "SnapStart turns on: Lambda publishes a version of the remediator, the sweep and the worker (their init "
    "runs once, when the version is published, and later environments are restored from its snapshot), each "
    "behind an alias live; the rules, their invoke permissions and the sweep queue's mapping then invoke the "
    "aliases instead of the functions. Every later change of code or settings publishes new versions, which "
    "makes deploys longer, and Lambda charges for each version's snapshot while it is kept and for each "
    "restore (docs/performance.md)"
)
SNAPSTART_OFF = (
    "SnapStart turns off: the rules, their invoke permissions and the sweep queue's mapping go back to the "
    "functions themselves ($LATEST), and the published versions and their aliases are deleted, with their "
    "snapshots and what Lambda charges for them; each cold start runs the init again"
)


def snapstart_parameter(choice: bool | None) -> dict[str, str]:
    """The parameter when the operator chose; {} keeps what is deployed."""
    return {} if choice is None else {SNAPSTART: str(choice).lower()}


def digest_for(deployed: Mapping[str, str] | None, template: str, parameters: Mapping[str, str]) -> str:
    """The SettingsDigest the update sends: with SnapStart on once the update is done, over everything the
    stack will run with (the template's defaults, the deployed values the update keeps, the given
    parameters), so that a setting changed outside akr also publishes a new version next time, and a
    deploy that changes nothing publishes nothing. Empty with SnapStart off: nothing is named by it."""
    declared = template_parameters(template)
    kept = {name: value for name, value in (deployed or {}).items() if name in declared}
    running = {**template_defaults(template), **kept, **parameters}
    if running.get(SNAPSTART) != "true":
        return ""
    return settings_digest(template, running)


_DEFAULT = re.compile(r"Default:\s*(.*?)\s*(?:#.*)?")


def template_defaults(template: str) -> dict[str, str]:
    """The Default of each top-level parameter, as CloudFormation reports it (a string, quotes removed), of
    akr's own templates (block style, one scalar per Default line)."""
    declared = template_parameters(template)
    defaults: dict[str, str] = {}
    inside, current = False, None
    for line in template.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line[0].isspace():
            inside = stripped.split("#")[0].rstrip() == "Parameters:"
            continue
        key = stripped.split("#")[0].rstrip()
        if inside and key.endswith(":") and key.removesuffix(":") in declared:
            current = key.removesuffix(":")
        found = _DEFAULT.fullmatch(stripped)
        if inside and current and found:
            value = found.group(1)
            quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
            defaults[current] = value[1:-1] if quoted else value
    return defaults
