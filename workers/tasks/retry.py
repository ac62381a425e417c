"""Sending failed work again, for `marsad alerts retry` and the console: every enqueue goes through the tasks,
so the alert ledger still decides, and an alert already sent is never sent twice."""

from __future__ import annotations

from typing import Any

from workers.stores.ledger import DeadLetters
from workers.tasks.alert import send_alert
from workers.tasks.article import process_article


def retry_dead_letters(dead: DeadLetters) -> int:
    """Re-enqueue every dead-lettered alert and quarantined article; how many."""
    rows = dead.pop_all()
    for r in rows:
        if r["kind"] == "alert":
            send_alert.delay(r["payload"]["alert"], r["payload"]["sink"])
        else:
            process_article.delay(r["payload"])
    return len(rows)


def resend(alert: dict[str, Any], sink_id: str) -> None:
    """One alert to one sink again (a failed delivery the console shows)."""
    send_alert.delay(alert, sink_id)
