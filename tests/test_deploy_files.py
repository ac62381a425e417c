"""The deployment files: docker-compose.yml's shape and safety (Docker cannot run here), the systemd units,
and .env.example's completeness."""

from __future__ import annotations

import configparser
import re

import yaml

from tests.conftest import REPO
from workers.config.limits import TASK_HARD_LIMIT_S

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
MARSAD = ("beat", "worker-poll", "worker-article", "worker-alert", "metrics")


def test_redis_persists_with_aof_never_evicts_needs_a_password_and_has_a_healthcheck() -> None:
    redis = SERVICES["redis"]
    cmd = " ".join(redis["command"])
    assert "--appendonly yes" in cmd and "--maxmemory-policy noeviction" in cmd
    assert "--requirepass ${REDIS_PASSWORD:?" in cmd  # from the environment, and required
    assert redis["healthcheck"]["test"][-1] == "ping" and "REDISCLI_AUTH" in redis["environment"]
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert "ports" not in redis  # reachable by the other services only


def test_every_service_that_talks_to_redis_uses_the_password() -> None:
    for name in MARSAD:
        assert "${REDIS_PASSWORD:?" in SERVICES[name]["environment"]["MARSAD_REDIS_URL"], name
    assert SERVICES["flower"]["environment"]["CELERY_BROKER_URL"].startswith("redis://:${REDIS_PASSWORD:?")


def test_published_ports_are_bound_to_localhost_and_every_one_needs_a_login() -> None:
    for name, svc in SERVICES.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    assert "${FLOWER_PASSWORD:?" in SERVICES["flower"]["environment"]["FLOWER_BASIC_AUTH"]
    assert "${MARSAD_WEB_PASSWORD:?" in SERVICES["web"]["environment"]["MARSAD_WEB_PASSWORD"]
    assert "${MARSAD_METRICS_PASSWORD:?" in SERVICES["metrics"]["environment"]["MARSAD_METRICS_PASSWORD"]


def test_no_password_on_a_command_line() -> None:
    # `ps` shows every process's argv to every user of the host. redis-server is the exception that proves it:
    # it overwrites its own argv with its process title ("redis-server *:6379") as it starts.
    for name, svc in SERVICES.items():
        if name == "redis":
            continue
        assert not any("PASSWORD" in str(part) for part in svc.get("command", [])), name


def test_one_beat_and_one_scalable_worker_service_per_queue_with_task_events() -> None:
    assert SERVICES["beat"]["command"] == ["beat"] and SERVICES["beat"]["deploy"]["replicas"] == 1
    workers = [s for s in SERVICES.values() if s.get("command", [None])[0] == "worker"]
    assert {s["command"][s["command"].index("-Q") + 1] for s in workers} == {"poll", "article", "alert"}
    assert all("--events" in s["command"] for s in workers)  # what Flower shows
    for name in MARSAD:
        assert SERVICES[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "container_name" not in SERVICES[name]  # a fixed name would forbid --scale
    assert SERVICES["metrics"]["command"][0] == "metrics"


def test_workers_get_longer_than_a_task_to_stop() -> None:
    for name in MARSAD:
        grace = str(SERVICES[name]["stop_grace_period"])
        assert grace.endswith("s") and int(grace[:-1]) > TASK_HARD_LIMIT_S, name


def unit(name: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.read_string((REPO / "deploy" / "systemd" / name).read_text(encoding="utf-8"))
    return cp


def test_systemd_units_stop_warmly_wait_for_the_network_and_keep_state_in_var_lib() -> None:
    for name in ("marsad-worker@.service", "marsad-beat.service", "marsad-metrics.service"):
        u = unit(name)
        assert "network-online.target" in u["Unit"]["Wants"], name
        assert u["Service"]["StateDirectory"] == "marsad", name
        assert "MARSAD_DATA_DIR=/var/lib/marsad" in u["Service"]["Environment"], name
    worker = unit("marsad-worker@.service")["Service"]
    assert worker["KillMode"] == "mixed" and worker["KillSignal"] == "SIGTERM"
    assert int(worker["TimeoutStopSec"]) > TASK_HARD_LIMIT_S
    assert "--host 127.0.0.1" in unit("marsad-metrics.service")["Service"]["ExecStart"]


def test_the_shipped_config_reads_data_dir_from_the_environment() -> None:
    from workers.config.load import load_settings

    s = load_settings(REPO / "config" / "marsad.yaml", env={"MARSAD_DATA_DIR": "/var/lib/marsad"})
    assert str(s.data_dir) == "/var/lib/marsad"
    assert s.redis_url == "unix:///var/lib/marsad/redis/redis.sock" and s.embedded


def test_every_variable_the_compose_file_and_config_use_is_in_env_example() -> None:
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    used: set[str] = set()
    for path in (REPO / "docker-compose.yml", REPO / "config" / "marsad.yaml"):
        code = "\n".join(ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.lstrip().startswith("#"))
        used |= set(re.findall(r"\$\{([A-Z_]+)", code))
    assert used <= listed, used - listed
