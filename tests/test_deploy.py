"""deploy/: the compose stack runs every role on PostgreSQL and Redis with health checks
and volumes, the image runs as a non-root user, and `docker compose config` accepts the
file (where Docker Compose is installed; CI installs it and requires this test to run)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"


def _services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def test_compose_runs_each_role_after_a_healthy_migrated_database_and_redis() -> None:
    services = _services()
    assert {"db", "redis", "migrate", "web", "worker", "scheduler"} <= set(services)
    roles = {}
    for name in ("web", "worker", "scheduler"):
        service = services[name]
        command = service["command"]
        roles[name] = command[command.index("--role") + 1]
        assert "readyz" in " ".join(service["healthcheck"]["test"]), name
        depends = service["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert service["environment"]["LINLI_REDIS_URL"].startswith("redis://redis:")
        assert service["environment"]["LINLI_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert roles == {"web": "web", "worker": "worker", "scheduler": "scheduler"}
    assert services["web"]["ports"] == ["127.0.0.1:8080:8080"]  # behind the TLS proxy
    for name in ("db", "redis"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["volumes"], name


def test_image_is_slim_and_runs_as_a_non_root_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "-slim" in dockerfile
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert "HEALTHCHECK" in dockerfile


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    found = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return found.returncode == 0


def test_docker_compose_config_accepts_the_file() -> None:
    if not _compose_available():
        if os.environ.get("LINLI_REQUIRE_COMPOSE"):
            pytest.fail("LINLI_REQUIRE_COMPOSE is set but `docker compose` is not installed")
        pytest.skip("Docker Compose v2 (`docker compose`) is not installed here")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_", "POSTGRES_"))}
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
