"""A process `marsad up` runs beside its worker (the console): restarted when it dies, stopped with the rest."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence

from workers.daemon.supervisor import MAX_RESTARTS, RESTART_PAUSE_S, RESTART_WINDOW_S
from workers.logging import get_logger

log = get_logger("marsad.supervisor")


class Companion:
    """Runs `argv` in the background until stop() or a clean exit; a death is logged and it is started again, at most
    MAX_RESTARTS times in RESTART_WINDOW_S (then it stays down, said once: the worker goes on)."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], pass_fds: Sequence[int] = ()) -> None:
        self.name, self.argv, self.env, self.pass_fds = name, list(argv), env, tuple(pass_fds)
        self.child: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"companion-{name}", daemon=True)

    def start(self) -> Companion:
        self._thread.start()
        return self

    def _run(self) -> None:
        restarts: list[float] = []
        while not self._stopping.is_set():
            self.child = subprocess.Popen(self.argv, env=self.env, pass_fds=self.pass_fds)
            code = self.child.wait()
            if self._stopping.is_set() or code == 0:
                return  # stopped, or shut down cleanly (Ctrl-C reaches the whole process group)
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < RESTART_WINDOW_S] + [now]
            if len(restarts) > MAX_RESTARTS:
                log.error("companion_given_up", process=self.name, exit_status=code, restarts=len(restarts) - 1)
                return
            log.warning("companion_restarting", process=self.name, exit_status=code)
            self._stopping.wait(RESTART_PAUSE_S)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._thread.join(timeout_s)
