"""How a run moves the key lifecycles it touches: written only when a key changes stage."""

from __future__ import annotations

from datetime import datetime

from remediator.decision import Action, Decision
from remediator.facts import UserFacts
from remediator.lifecycle import KeyLifecycle, Stage, next_stage
from remediator.run import Run


def first_warning(run: Run, decision: Decision) -> bool:
    """At most one warning per key and due date: a key used again gets a new due date, and a new one."""
    known = run.lifecycles().get(decision.access_key_id)
    return not (known and known.stage is Stage.WARNED and known.warned_due_at == decision.due_at)


def advance(
    run: Run, facts: UserFacts, decision: Decision, *, done: bool, now: datetime, staged: bool
) -> None:
    """Move the key's lifecycle when the decision changes its stage; write nothing otherwise."""
    key = decision.access_key_id
    known = run.lifecycles().get(key)
    stage, fields = next_stage(known, decision, done=done, now=now, staged=staged)
    if stage is None or stage is Stage.WARNED:
        return  # a warning is recorded once its notice has gone out (record_warnings)
    base = known or KeyLifecycle(
        account_id=run.context.account_id,
        access_key_id=key,
        user_name=facts.user_name,
        stage=stage,
        detected_at=now if decision.rules else None,
        updated_at=now,
    )
    run.save(base.moved(stage, now, decision.reason, **fields))


def gone(run: Run, access_key_id: str, now: datetime) -> None:
    """The key no longer exists (someone deleted it between the read and the action)."""
    known = run.lifecycles().get(access_key_id)
    if known is not None and known.stage is not Stage.DELETED:
        run.save(known.moved(Stage.DELETED, now, "key no longer exists", deleted_at=now))


def record_warnings(run: Run, now: datetime) -> None:
    """The warnings just sent out. Recorded only once sent, so that a failed notice is sent again."""
    for notice in run.notices:
        if notice.decision != Action.WARN or notice.access_key_id is None or notice.user_name is None:
            continue
        known = run.lifecycles().get(notice.access_key_id) or KeyLifecycle(
            account_id=run.context.account_id,
            access_key_id=notice.access_key_id,
            user_name=notice.user_name,
            stage=Stage.WARNED,
            updated_at=now,
        )
        run.save(known.moved(Stage.WARNED, now, notice.reason, warned_at=now, warned_due_at=notice.due_at))


def forget_vanished_keys(run: Run, user_name: str, facts: UserFacts | None, now: datetime) -> None:
    """Keys this service deactivated that no longer exist (deleted by someone, or the user is gone)."""
    present = {key.access_key_id for key in facts.keys} if facts else set()
    for lc in list(run.lifecycles().values()):
        if lc.user_name == user_name and lc.stage is Stage.DEACTIVATED and lc.access_key_id not in present:
            run.save(lc.moved(Stage.DELETED, now, "key no longer exists", deleted_at=now))
