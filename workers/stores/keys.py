"""The Redis key space: the prefix every key of Marsad lives under, the queue lists, and how long marks live."""

from __future__ import annotations

P = "marsad:"
# Celery's queues are Redis lists of these names (status and metrics read their lengths).
QUEUES = ("poll", "article", "alert")
# An entry URL stays "seen" this long: far beyond any feed's memory (feeds list days, not months),
# so an old item re-appearing in a feed never re-alerts.
SEEN_TTL_S = 90 * 86400
# A sent alert is remembered this long: longer than the dedup window, so a story that lingers in
# feeds for weeks never alerts twice.
ALERT_SENT_TTL_S = 60 * 86400
DEAD_LETTERS = P + "alerts:failed"
