"""Every timing limit whose relation to another one keeps work from being lost or done twice, with the
relations checked when this module is imported (a violated one stops the process, naming both values)."""

from __future__ import annotations

# Celery: an unacked message of a crashed worker comes back after the visibility timeout. Every task is
# stopped (hard limit) long before that, so a slow task is never delivered twice while it still runs.
VISIBILITY_TIMEOUT_S = 600
TASK_SOFT_LIMIT_S = 120
TASK_HARD_LIMIT_S = 180
# Retry countdowns stay below the visibility timeout: a countdown longer than it is redelivered early.
MAX_RETRY_COUNTDOWN_S = 300
# A sink's own timeout (`timeout_s` in marsad.yaml) is capped so a send that hangs ends, and is reported,
# before the task's soft limit.
MAX_SINK_TIMEOUT_S = 60
# An alert being sent holds its (watch, story, sink) claim this long. Longer than the task's hard limit:
# while the task that claimed it can still be sending, no other task can claim it and send again. Shorter
# than the visibility timeout. The claim names the task that holds it: the same task redelivered after its
# worker died (it cannot be running twice: the hard limit is below the visibility timeout) takes it back at
# once instead of waiting for the claim to expire.
ALERT_CLAIM_TTL_S = 240
# Digests and notices hold their (sink, period) claim this long, for the same reason (they are sent from
# beat's ticks, which are tasks too).
SEND_CLAIM_TTL_S = 300
# Beat's alerting ticks run this often; each holds its lock below the period, so a dead tick never blocks
# the next one.
DIGEST_TICK_S = 30.0
OPS_CHECK_S = 60.0
TICK_LOCK_S = 50.0
# A worker whose queues hold work while it receives and finishes nothing for this long restarts itself:
# never sooner than a task may legitimately run (hard limit), so a backlog of slow pages is not a stall.
MIN_STALL_AFTER_S = 300.0


class LimitError(RuntimeError):
    """Two limits in the wrong order: a configuration that could lose or double work."""


def check(relations: list[tuple[str, float, str, float]]) -> None:
    """Each (name_a, a, name_b, b) must have a < b."""
    bad = [f"{na} ({a:g} s) must be below {nb} ({b:g} s)" for na, a, nb, b in relations if not a < b]
    if bad:
        raise LimitError("; ".join(bad))


RELATIONS: list[tuple[str, float, str, float]] = [
    ("TASK_SOFT_LIMIT_S", TASK_SOFT_LIMIT_S, "TASK_HARD_LIMIT_S", TASK_HARD_LIMIT_S),
    ("TASK_HARD_LIMIT_S", TASK_HARD_LIMIT_S, "ALERT_CLAIM_TTL_S", ALERT_CLAIM_TTL_S),
    ("ALERT_CLAIM_TTL_S", ALERT_CLAIM_TTL_S, "VISIBILITY_TIMEOUT_S", VISIBILITY_TIMEOUT_S),
    ("MAX_SINK_TIMEOUT_S", MAX_SINK_TIMEOUT_S, "TASK_SOFT_LIMIT_S", TASK_SOFT_LIMIT_S),
    ("TASK_HARD_LIMIT_S", TASK_HARD_LIMIT_S, "SEND_CLAIM_TTL_S", SEND_CLAIM_TTL_S),
    ("SEND_CLAIM_TTL_S", SEND_CLAIM_TTL_S, "VISIBILITY_TIMEOUT_S", VISIBILITY_TIMEOUT_S),
    ("MAX_RETRY_COUNTDOWN_S", MAX_RETRY_COUNTDOWN_S, "VISIBILITY_TIMEOUT_S", VISIBILITY_TIMEOUT_S),
    ("TICK_LOCK_S", TICK_LOCK_S, "OPS_CHECK_S", OPS_CHECK_S),
    ("TASK_HARD_LIMIT_S", TASK_HARD_LIMIT_S, "MIN_STALL_AFTER_S", MIN_STALL_AFTER_S),
]
check(RELATIONS)
