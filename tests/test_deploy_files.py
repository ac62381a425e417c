"""The cluster files: docker-compose.yml's shape (Docker cannot run here) and .env.example's completeness."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def test_redis_persists_with_aof_never_evicts_and_has_a_healthcheck() -> None:
    redis = COMPOSE["services"]["redis"]
    cmd = " ".join(redis["command"])
    assert "--appendonly yes" in cmd and "--maxmemory-policy noeviction" in cmd
    assert redis["healthcheck"]["test"][-1] == "ping"
    assert any(v.endswith(":/data") for v in redis["volumes"])


def test_one_beat_and_one_scalable_worker_service_per_queue() -> None:
    services = COMPOSE["services"]
    assert services["beat"]["command"] == ["beat"] and services["beat"]["deploy"]["replicas"] == 1
    queues = {s["command"][s["command"].index("-Q") + 1] for s in services.values()
              if s.get("command", [None])[0] == "worker"}
    assert queues == {"poll", "article", "alert"}
    for name in ("beat", "worker-poll", "worker-article", "worker-alert", "metrics"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "container_name" not in services[name]  # a fixed name would forbid --scale
    assert "flower" in services and services["metrics"]["command"][0] == "metrics"


def test_every_variable_the_compose_file_and_config_use_is_in_env_example() -> None:
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    used: set[str] = set()
    for path in (REPO / "docker-compose.yml", REPO / "config" / "marsad.yaml"):
        code = "\n".join(ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.lstrip().startswith("#"))
        used |= set(re.findall(r"\$\{([A-Z_]+)", code))
    assert used <= listed, used - listed
