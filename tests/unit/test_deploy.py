"""The deployment files, checked statically: no Docker engine, no network.

docker-compose.yml is validated against the Compose Specification's JSON Schema (from
../shared/corpora/compose-spec, skipped when absent) and checked for what a service needs
(health checks, restart policy, secrets from an uncommitted .env, scalable replicas); the
Dockerfile's stages, .dockerignore, the wheel's package data and the systemd unit likewise.
Both /healthz checks are run against a local HTTP server.
"""

from __future__ import annotations

import configparser
import json
import re
import struct
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
UNIT = ROOT / "deploy" / "kurilwatch.service"
COMPOSE_SCHEMA = ROOT.parent / "shared" / "corpora" / "compose-spec" / "compose-spec.json"

CONFIG_TARGET = "/etc/kurilwatch/kurilwatch.yaml"
ROOT_USERS = {"root", "0"}
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential)\b")
# ${NAME}, ${NAME:-default}, ${NAME:?message}, $NAME; `$$` is a literal dollar in Compose
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")


# --- helpers -------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def _service(name: str) -> dict[str, Any]:
    services = _compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return services[name]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _seconds(duration: str | int) -> float:
    """A Compose duration such as 30s, 1m30s or 500ms, in seconds."""
    if isinstance(duration, int):
        return float(duration)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration}"
    return sum(float(n) * units[u] for n, u in parts)


def _healthcheck_test(service: dict[str, Any]) -> list[str]:
    test = service.get("healthcheck", {}).get("test")
    assert test, "no healthcheck.test"
    return ["CMD-SHELL", test] if isinstance(test, str) else [str(t) for t in test]


def _interpolate(value: str) -> str:
    """`value` with each ${NAME…} replaced by a URL-safe stand-in named after the variable."""
    return re.sub(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}", r"value-of-\1", value)


def _env_example_names() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if match:
            names.add(match.group(1))
    return names


def _variables(text: str) -> set[str]:
    return {braced or bare for braced, bare in COMPOSE_VARIABLE.findall(text)}


def _dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (KEYWORD, arguments), one list per FROM."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments are dropped even inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in instructions:
        if keyword == "FROM":
            stages.append([])
        assert stages, f"{keyword} before the first FROM"
        stages[-1].append((keyword, args))
    return stages


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not the exec (JSON array) form: {args}"
    return value


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A setuptools package-data glob (`*`, `?`, `**/`) as a regex over a relative path."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _top_level_packages() -> list[str]:
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    return [p.rstrip("*").rstrip(".") for p in include]


def _tracked_paths(git_dir: Path) -> set[str] | None:
    """The paths in git's index (versions 2 and 3), read without running git; None if unknown."""
    index = git_dir / "index"
    if not index.is_file():
        return None
    data = index.read_bytes()
    if data[:4] != b"DIRC":
        return None
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3):
        return None
    paths, pos = set(), 12
    for _ in range(count):
        (flags,) = struct.unpack(">H", data[pos + 60 : pos + 62])
        header = 64 if version == 3 and flags & 0x4000 else 62
        end = data.index(b"\0", pos + header)
        paths.add(data[pos + header : end].decode("utf-8", "surrogateescape"))
        pos += (end - pos + 8) & ~7  # NUL-padded to a multiple of 8, at least one NUL
    return paths


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"), source=str(UNIT))
    return parser


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        body = json.dumps({"status": "ok" if code == 200 else "unhealthy"}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    handler = type("Handler", (_Health,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _run_check(argv: list[str], port: int) -> int:
    """Run a healthcheck's `python -c …` with this interpreter, KURILWATCH_LISTEN at `port`."""
    assert argv[0] == "python" and argv[1] == "-c", argv
    env = {"KURILWATCH_LISTEN": f"0.0.0.0:{port}", "HTTP_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30, check=False
    )
    return done.returncode


# --- docker-compose.yml ----------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    if not COMPOSE_SCHEMA.is_file():
        pytest.skip(f"the Compose Specification schema is not at {COMPOSE_SCHEMA}")
    jsonschema = pytest.importorskip("jsonschema", reason="pip install jsonschema (test extra)")
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors
    )


def test_postgres_service_is_official_persistent_and_health_checked() -> None:
    postgres = _service("postgres")
    image = postgres["image"]
    assert re.fullmatch(r"(docker\.io/)?(library/)?postgres:18[\w.-]*", image), image
    volumes = _compose().get("volumes") or {}
    mounts = [v.split(":") for v in postgres["volumes"] if isinstance(v, str)]
    named = [m for m in mounts if m[0] in volumes]
    assert named, "postgres keeps its data in a named volume declared under `volumes:`"
    # postgres:18 stores PGDATA in /var/lib/postgresql/18/docker and refuses a mount at …/data
    assert [m[1] for m in named] == ["/var/lib/postgresql"]
    assert "pg_isready" in " ".join(_healthcheck_test(postgres))
    assert postgres["restart"] == "unless-stopped"
    assert "ports" not in postgres, "PostgreSQL must not be published on the host"


def test_kurilwatch_service_builds_waits_and_reads_its_config() -> None:
    kw = _service("kurilwatch")
    build = kw["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert context in (".", "./")
    assert isinstance(build, str) or build.get("dockerfile", "Dockerfile") == "Dockerfile"
    assert kw["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert kw["restart"] == "unless-stopped"

    config_mounts = []
    for volume in kw["volumes"]:
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            read_only = "ro" in ",".join(mode).split(",")
        else:
            source, target = volume["source"], volume["target"]
            read_only = volume.get("read_only", False)
        if target == CONFIG_TARGET:
            config_mounts.append((source, read_only))
    assert config_mounts == [("./kurilwatch.yaml", True)], config_mounts

    env = _environment(kw)
    assert env["KURILWATCH_CONFIG"] == CONFIG_TARGET
    assert env["KURILWATCH_LISTEN"] == "0.0.0.0:9464"


def test_kurilwatch_database_url_points_at_the_postgres_service() -> None:
    postgres_env = {k: _interpolate(v) for k, v in _environment(_service("postgres")).items()}
    raw = _environment(_service("kurilwatch"))["KURILWATCH_DATABASE_URL"]
    url = urlsplit(_interpolate(raw))
    assert url.scheme == "postgresql"
    assert url.hostname == "postgres"
    assert url.port == 5432
    assert url.username == postgres_env["POSTGRES_USER"]
    assert url.path == "/" + postgres_env.get("POSTGRES_DB", postgres_env["POSTGRES_USER"])
    assert url.password == postgres_env["POSTGRES_PASSWORD"], "the server's own password"


def test_kurilwatch_secrets_come_from_an_optional_env_file() -> None:
    env_files = _service("kurilwatch")["env_file"]
    env_files = env_files if isinstance(env_files, list) else [env_files]
    entries = [e if isinstance(e, dict) else {"path": e} for e in env_files]
    assert {"path": ".env", "required": False} in entries, entries


def test_kurilwatch_runs_json_logs_and_stops_gracefully() -> None:
    kw = _service("kurilwatch")
    assert "--log-format" in kw["command"]
    assert kw["command"][kw["command"].index("--log-format") + 1] == "json"
    assert "entrypoint" not in kw, "the image's ENTRYPOINT is kurilwatch"
    assert _seconds(kw["stop_grace_period"]) >= 20
    assert kw.get("stop_signal", "SIGTERM") == "SIGTERM"


def test_kurilwatch_healthcheck_uses_healthz_with_the_standard_library() -> None:
    test = _healthcheck_test(_service("kurilwatch"))
    joined = " ".join(test)
    assert "/healthz" in joined
    assert test[:3] == ["CMD", "python", "-c"], "python from the image: no curl in a slim image"
    assert not re.search(r"\b(curl|wget)\b", joined)


def test_kurilwatch_can_be_scaled() -> None:
    for name, service in _compose()["services"].items():
        assert "container_name" not in service, f"{name}: container_name prevents --scale"
    kw = _service("kurilwatch")
    assert "ports" not in kw, "a published host port prevents --scale; use expose"


def test_env_is_not_committed_and_env_example_lists_every_variable() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored or "/.env" in ignored, ".gitignore must ignore .env"
    tracked = _tracked_paths(ROOT / ".git")
    if tracked is not None:
        assert ".env" not in tracked, ".env is committed: remove it from the index"
    assert ENV_EXAMPLE.is_file()
    listed = _env_example_names()
    used = _variables(COMPOSE.read_text(encoding="utf-8"))
    assert "POSTGRES_PASSWORD" in used
    assert used <= listed, f"missing from .env.example: {sorted(used - listed)}"
    example_config = ROOT / "kurilwatch.example.yaml"
    if example_config.is_file():
        # the values of keys, commented out or not (the prose's "${VAR}" is no variable)
        values = re.findall(
            r"^\s*#?\s*-?\s*[\w-]+:\s*(.*)$",
            example_config.read_text(encoding="utf-8"),
            re.MULTILINE,
        )
        config_vars = _variables("\n".join(values))
        assert config_vars <= listed, f"missing from .env.example: {sorted(config_vars - listed)}"


# --- Dockerfile and .dockerignore -------------------------------------------------------------


def test_dockerfile_builds_a_wheel_in_a_first_stage() -> None:
    stages = _dockerfile_stages()
    assert len(stages) >= 2, "multi-stage: build, then runtime"
    build = stages[0]
    assert re.fullmatch(r"python:3\.11-slim[\w.-]* AS \w+", build[0][1], re.IGNORECASE)
    runs = " ".join(args for keyword, args in build if keyword == "RUN")
    assert re.search(r"\bpip wheel\b.* \.(\s|$)", runs), "the build stage runs `pip wheel .`"
    copied = " ".join(args for keyword, args in build if keyword in ("COPY", "ADD"))
    needed = ["pyproject.toml", "README.md", *_top_level_packages()]
    missing = [name for name in needed if not re.search(rf"(^|\s)(\./)?{name}/?(\s|$)", copied)]
    assert not missing, f"the build stage does not copy {missing}"


def test_dockerfile_final_stage_runs_the_wheel_as_a_non_root_user() -> None:
    final = _dockerfile_stages()[-1]
    assert re.fullmatch(r"python:3\.11-slim[\w.-]*", final[0][1].split()[0])
    text = "\n".join(f"{k} {a}" for k, a in final)
    assert not COMPILERS.search(text), "no compiler in the final stage"
    for keyword, args in final:
        if keyword in ("COPY", "ADD"):
            assert "--from=" in args, f"the final stage copies sources: {keyword} {args}"

    users = [args for keyword, args in final if keyword == "USER"]
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ROOT_USERS, f"USER {users[-1]}"
    uid = re.search(r"useradd\b[^&;]*--uid\s+(\d+)", text)
    assert uid and int(uid.group(1)) != 0, "a fixed, non-zero uid"
    assert user in (uid.group(1), "kurilwatch")

    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert re.search(r"\bPYTHONUNBUFFERED=1\b", env)
    assert ("EXPOSE", "9464") in final
    entrypoint = [args for keyword, args in final if keyword == "ENTRYPOINT"]
    cmd = [args for keyword, args in final if keyword == "CMD"]
    assert [_exec_form(a) for a in entrypoint] == [["kurilwatch"]]
    assert [_exec_form(a) for a in cmd] == [["--log-format", "json", "run"]]
    assert _service("kurilwatch")["command"] == _exec_form(cmd[0]), "compose repeats the CMD"


def test_dockerignore_keeps_secrets_and_clutter_out_of_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for required in (".env", ".venv", ".git", "kurilwatch.yaml", "*.egg-info"):
        assert required in patterns, f".dockerignore does not exclude {required}"
    for needed in ("pyproject.toml", "README.md", *_top_level_packages()):
        assert needed not in patterns and f"/{needed}" not in patterns, needed


def test_package_data_is_declared_so_the_wheel_has_it() -> None:
    """Every non-Python file in the packages is in pyproject's package-data (else not in the image)."""
    package_data = _pyproject()["tool"]["setuptools"].get("package-data", {})
    undeclared = []
    for top in _top_level_packages():
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file() or path.suffix in (".py", ".pyc", ".pyi"):
                continue
            if "__pycache__" in path.parts:
                continue
            relative = path.relative_to(ROOT).as_posix()
            covered = any(
                relative.startswith(package.replace(".", "/") + "/")
                and _glob_regex(pattern).match(relative[len(package.replace(".", "/")) + 1 :])
                for package, patterns in package_data.items()
                for pattern in patterns
            )
            if not covered:
                undeclared.append(relative)
    assert not undeclared, f"add to [tool.setuptools.package-data]: {undeclared}"
    assert (ROOT / "storage" / "migrations" / "versions" / "__init__.py").is_file()


# --- the health checks, run for real against a local server ----------------------------------


def _dockerfile_healthcheck() -> list[str] | None:
    for keyword, args in _dockerfile_stages()[-1]:
        if keyword == "HEALTHCHECK":
            cmd = re.search(r"\bCMD\s+(\[.*\])\s*$", args)
            assert cmd, f"HEALTHCHECK in exec form: {args}"
            return _exec_form(cmd.group(1))
    return None


@pytest.mark.parametrize("where", ["compose", "Dockerfile"])
def test_healthcheck_passes_on_200_and_fails_on_503_or_no_answer(
    where: str, health_server: ThreadingHTTPServer
) -> None:
    if where == "compose":
        argv = _healthcheck_test(_service("kurilwatch"))[1:]
    else:
        found = _dockerfile_healthcheck()
        if found is None:
            pytest.skip("the Dockerfile has no HEALTHCHECK (compose has one)")
        argv = found
    port = health_server.server_address[1]
    assert _run_check(argv, port) == 0
    health_server.RequestHandlerClass.status = 503  # type: ignore[attr-defined]
    assert _run_check(argv, port) != 0
    health_server.shutdown()
    health_server.server_close()
    assert _run_check(argv, port) != 0


# --- systemd -----------------------------------------------------------------------------------


def test_systemd_unit_runs_the_daemon_as_a_hardened_service() -> None:
    unit = _unit()
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    service = unit["Service"]
    exec_start = service["ExecStart"].split()
    assert exec_start[0].startswith("/") and exec_start[0].endswith("/kurilwatch")
    assert exec_start[-1] == "run"
    assert exec_start[exec_start.index("--config") + 1] == CONFIG_TARGET
    assert service["Type"] == "simple"
    assert service["User"] not in ROOT_USERS
    assert service["Restart"] in ("on-failure", "always")
    assert service["ExecReload"].split()[-2:] == ["-HUP", "$MAINPID"]
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"].removesuffix("s")) >= 20
    assert service["EnvironmentFile"].startswith("-"), "the env file is optional"
    assert "XDG_DATA_HOME=/var/lib/kurilwatch" in service["Environment"].split()
    assert service["StateDirectory"] == "kurilwatch"
    assert "/var/lib/kurilwatch" in service["ReadWritePaths"].split()
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }.items():
        assert service[key] == value, key
    assert unit["Install"]["WantedBy"] == "multi-user.target"
