"""`marsad up`'s supervisor: the worker runs as a child process and is started again when it stalls or dies."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from types import FrameType

from workers.logging import get_logger
from workers.stores.liveness import EX_STALLED

log = get_logger("marsad.supervisor")

# A worker that keeps dying is a problem to show, not to hide: more than this many restarts within the
# window and `marsad up` gives up with an error instead of looping (systemd's StartLimitBurst, the same idea).
MAX_RESTARTS = 5
RESTART_WINDOW_S = 600.0
# A short pause before a restart, so a worker that dies at start does not spin the CPU.
RESTART_PAUSE_S = 2.0
CELERY_EXIT_AFTER_SIGINT = 1  # celery.apps.worker installs its SIGINT handler with exitcode=EX_FAILURE


def should_restart(code: int) -> bool:
    """Restart after a stall (the watchdog's exit status) or a death by signal (OOM killer, SIGKILL);
    any other status (0 after a clean stop, 1 for bad config) is the answer to pass on."""
    return code == EX_STALLED or code < 0


class Supervisor:
    """Runs `argv` until it exits for good. SIGINT/SIGTERM ask the worker for a warm shutdown (SIGTERM, which
    Celery treats as warm however often it arrives); Ctrl-C in a terminal also reaches the worker directly,
    since it stays in our process group, and a second Ctrl-C is Celery's cold shutdown as usual."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], *, pause_s: float = RESTART_PAUSE_S,
                 spawn: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen) -> None:
        self.argv, self.env, self.pause_s, self.spawn = list(argv), env, pause_s, spawn
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None
        self.restarts: list[float] = []

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def run(self) -> int:
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while True:
                self.child = self.spawn(self.argv, env=self.env)
                code = self.child.wait()
                if self.stopping:
                    # Celery exits 1 after SIGINT (its convention for Ctrl-C) and 0 after SIGTERM; either way
                    # the stop we were asked for went through. A death by signal is passed on.
                    return 0 if code in (0, CELERY_EXIT_AFTER_SIGINT) else code
                if not should_restart(code):
                    return code
                now = time.monotonic()
                self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
                if len(self.restarts) > MAX_RESTARTS:
                    log.error("worker_restart_loop", exit_status=code, restarts=len(self.restarts) - 1,
                              window_s=RESTART_WINDOW_S)
                    return 1
                log.warning("worker_restarting", exit_status=code,
                            reason="stalled" if code == EX_STALLED else "killed_by_signal")
                time.sleep(self.pause_s)
                if self.stopping:
                    return code
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
