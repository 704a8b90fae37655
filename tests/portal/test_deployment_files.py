"""docker-compose.yml and the Dockerfile, checked as files (no Docker engine on our machines)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "beat")
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|KEY", re.IGNORECASE)
REFERENCE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
# Values an operator's .env would hold; substituted into the ${VAR} references for the start-up check.
OPERATOR_ENV = {
    "SECRET_KEY": "k3Vq9xN2pR7tW1yZ3bD6fH9kM0nP5sU8wA2cE4gI6lO9qT1vX3zB5dF7hJ0kL2nQ",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "POSTGRES_PASSWORD": "operator-chosen-password",
    "ALLOWED_HOSTS": "portal.example.org",
    "SITE_URL": "https://portal.example.org",
}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def interpolate(value: str, environ: dict[str, str]) -> str:
    """docker compose's ${VAR}, ${VAR:-default} and ${VAR:?message} (enough for our file)."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if environ.get(name):
            return environ[name]
        if op and op.endswith("?"):
            raise KeyError(f"{name} must be set: {arg}")
        return arg or ""

    return REFERENCE.sub(replace, value)


def test_all_services_present_with_health_checks(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert name in services, f"service {name} missing"
        check = services[name].get("healthcheck")
        assert check and check.get("test"), f"service {name} has no healthcheck"
        assert not check.get("disable"), f"service {name} disables its healthcheck"


def test_redis_keeps_an_append_only_file_and_never_evicts(compose):
    command = compose["services"]["redis"]["command"]
    text = " ".join(command) if isinstance(command, list) else command
    assert re.search(r"--appendonly\s+yes", text)
    assert re.search(r"--maxmemory-policy\s+noeviction", text)


def test_data_lives_in_named_volumes(compose):
    volumes = compose.get("volumes") or {}
    services = compose["services"]
    for service, mount_point in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        mounts = services[service].get("volumes") or []
        named = [m.split(":")[0] for m in mounts if m.split(":")[1] == mount_point]
        assert named and named[0] in volumes, f"{service} data at {mount_point} is not on a named volume"


def test_app_services_share_the_settings_environment(compose):
    services = compose["services"]
    first = services[APP_SERVICES[0]]["environment"]
    for name in APP_SERVICES:
        assert services[name]["environment"] == first, f"{name} has a different environment"
        assert services[name]["environment"]["DEBUG"] == "0"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_service_environment_is_enough_for_settings_outside_debug(compose, service):
    """Interpolate the service's environment with an operator's .env and start Django with only that:
    every variable settings.py requires outside DEBUG must be there."""
    environment = {key: interpolate(str(value), OPERATOR_ENV) for key, value in
                   compose["services"][service]["environment"].items()}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "portal.settings",
           "PYTHONPATH": str(BASE_DIR), **environment}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    for required in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SITE_URL"):
        assert environment.get(required), f"{service} does not set {required}"


@pytest.mark.parametrize("required", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "POSTGRES_PASSWORD", "ALLOWED_HOSTS"])
def test_compose_refuses_to_start_without_operator_secrets(compose, required):
    environment = compose["services"]["web"]["environment"]
    operator_env = {k: v for k, v in OPERATOR_ENV.items() if k != required}
    with pytest.raises(KeyError, match=required):
        for value in environment.values():
            interpolate(str(value), operator_env)


def test_no_secret_is_hard_coded_in_compose(compose):
    for service_name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if SECRET_NAMES.search(key):
                assert REFERENCE.fullmatch(value), f"{service_name}.{key} is not a ${{VAR}} reference: {value!r}"
            if "://" in value and "@" in value:
                userinfo = value.split("://", 1)[1].split("@", 1)[0]
                if ":" in userinfo:
                    password = userinfo.split(":", 1)[1]
                    assert REFERENCE.fullmatch(password), f"{service_name}.{key} has a literal password in its URL"
    text = (BASE_DIR / "docker-compose.yml").read_text()
    unreferenced = REFERENCE.sub("", text)
    assert not re.search(r"[A-Za-z0-9_\-]{43}=", unreferenced), "something like a Fernet key is written in the file"


def test_dockerfile_exists_and_holds_no_secrets():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert dockerfile.startswith("#") or "FROM " in dockerfile
    assert re.search(r"^FROM python:3\.11", dockerfile, re.MULTILINE)
    assert re.search(r"^USER (?!root)\S+", dockerfile, re.MULTILINE), "the image must not run as root"
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "POSTGRES_PASSWORD", "DEMO_PASSWORD", "API_KEY"):
        assert not re.search(rf"{name}\s*=", dockerfile), f"Dockerfile sets {name}"
    for url in re.findall(r"\w+://\S+", dockerfile):
        userinfo = url.split("://", 1)[1].split("@", 1)[0] if "@" in url else ""
        assert ":" not in userinfo, f"Dockerfile has a password in {url}"
    assert ".env" in (BASE_DIR / ".gitignore").read_text().split()


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    for entry in (".env", ".venv", "node_modules", ".run", ".git"):
        assert entry in ignored, f".dockerignore does not exclude {entry}"
