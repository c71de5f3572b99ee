"""Load vendor profiles: Baton's builtin ones, then the project's, then an explicit file.

Sources, later ones overriding earlier ones by profile name:

1. the builtin profiles (``baton/data/vendors.toml``): ``sim-frontier``, ``sim-small``,
   ``sim-flaky`` (the simulated vendor) and ``local-smollm2`` (the embedded real model);
2. ``runners/vendors.toml`` in the project directory, one table per profile name;
3. ``[tool.baton.vendors.NAME]`` tables in the project's ``pyproject.toml``;
4. an explicit file (``extra_file``), same format as ``runners/vendors.toml``.

Any OpenAI-compatible endpoint is a profile. Examples::

    [openai-gpt4o-mini]                  # OpenAI
    base_url = "https://api.openai.com/v1"
    model = "gpt-4o-mini"
    api_key_env = "OPENAI_API_KEY"       # the variable's NAME; never put the key here
    price_input_per_mtok = 0.15
    price_output_per_mtok = 0.60
    max_concurrency = 16
    structured_output = "json_schema"

    [vllm-qwen]                          # a vLLM server
    base_url = "http://gpu-box:8000/v1"
    model = "Qwen/Qwen2.5-7B-Instruct"
    structured_output = "json_schema"

    [ollama-llama3]                      # Ollama's OpenAI-compatible endpoint
    base_url = "http://localhost:11434/v1"
    model = "llama3.1"
    structured_output = "json_schema"
    timeout_s = 120

A profile with ``kind = "sim"`` is served by Baton's simulated vendor; its knobs go in a
``[NAME.sim]`` table (see :class:`baton.sim.knobs.SimKnobs`). ``structured_output`` is one of
``json_schema`` (OpenAI), ``json_object_schema`` (llama.cpp), ``tools`` (a forced function
call) or ``prompt`` (schema in the system prompt, JSON extracted from the reply).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from baton.errors import ConfigError
from baton.problems import describe_validation
from baton.project import read_toml
from baton.redact import looks_like_key, register_key_variables
from baton.sim.knobs import SimKnobs
from baton.vendors import VendorProfile

BUILTIN_SOURCE = "baton/data/vendors.toml"


def builtin_profiles() -> dict[str, VendorProfile]:
    """The profiles Baton ships with."""
    text = resources.files("baton").joinpath("data/vendors.toml").read_text(encoding="utf-8")
    return _profiles_from_tables(tomllib.loads(text), BUILTIN_SOURCE)


def load_profiles(project_dir: Path | None = None, extra_file: Path | None = None) -> dict[str, VendorProfile]:
    """All profiles visible to a project, by name (see the module docstring for the order)."""
    profiles = builtin_profiles()
    if project_dir is not None:
        project_dir = Path(project_dir)
        runners_file = project_dir / "runners" / "vendors.toml"
        if runners_file.is_file():
            profiles.update(_profiles_from_tables(read_toml(runners_file), str(runners_file)))
        pyproject = project_dir / "pyproject.toml"
        if pyproject.is_file():
            tables = read_toml(pyproject).get("tool", {}).get("baton", {}).get("vendors", {})
            if not isinstance(tables, dict):
                raise ConfigError(f"{pyproject}: tool.baton.vendors: expected a table of profiles")
            profiles.update(_profiles_from_tables(tables, f"{pyproject} [tool.baton.vendors]"))
    if extra_file is not None:
        extra_file = Path(extra_file)
        if not extra_file.is_file():
            raise ConfigError(f"{extra_file}: vendor file not found")
        profiles.update(_profiles_from_tables(read_toml(extra_file), str(extra_file)))
    register_key_variables(p.api_key_env for p in profiles.values())
    return profiles


def resolve(profiles: Mapping[str, VendorProfile], name: str) -> VendorProfile:
    """The profile called ``name``; a :class:`ConfigError` listing the known ones otherwise."""
    try:
        return profiles[name]
    except KeyError:
        known = ", ".join(sorted(profiles)) or "(none)"
        raise ConfigError(f"unknown vendor profile '{name}'; known profiles: {known}") from None


def parse_profile(name: str, table: Mapping[str, Any], source: str) -> VendorProfile:
    """Validate one profile table; errors name the source, the profile and the field."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: vendor profile '{name}': expected a table, got {type(table).__name__}")
    data = dict(table)
    data.setdefault("name", name)
    if data["name"] != name:
        raise ConfigError(f"{source}: vendor profile '{name}': name: must match the table name, "
                          f"got {data['name']!r}")
    _refuse_secrets(data, f"{source}: vendor profile '{name}'")
    try:
        profile = VendorProfile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: vendor profile '{name}': {_describe(exc)}") from None
    if profile.kind == "sim":
        try:
            SimKnobs.model_validate(profile.sim)
        except ValidationError as exc:
            raise ConfigError(f"{source}: vendor profile '{name}': {_describe(exc, 'sim')}") from None
    return profile


_KEY_FIELDS = ("api_key", "apikey", "key", "token", "secret", "password", "authorization")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_HELP = ("the key belongs in an environment variable: export it (export OPENAI_API_KEY=...) and "
             "set api_key_env = \"OPENAI_API_KEY\", the variable's name")


def _refuse_secrets(data: Mapping[str, Any], where: str) -> None:
    """A :class:`ConfigError` (never echoing the value) when a profile holds a key instead of
    naming the environment variable that holds it."""
    for field in data:
        if isinstance(field, str) and field.lower().replace("-", "_") in _KEY_FIELDS:
            raise ConfigError(f"{where}: {field}: not a field; Baton never reads a key from a file "
                              f"(value not shown); {_KEY_HELP}")
    env = data.get("api_key_env")
    if env is not None:
        if not isinstance(env, str) or not _ENV_NAME.fullmatch(env) or looks_like_key(env) or _random_looking(env):
            raise ConfigError(f"{where}: api_key_env: expected the NAME of an environment variable "
                              f"(letters, digits, '_'), got a value that is not one (not shown, in case it "
                              f"is the key itself); {_KEY_HELP}")
    url = data.get("base_url")
    if isinstance(url, str):
        parts = urlsplit(url)
        if parts.password or looks_like_key(url) or (parts.query and _secret_query(parts.query)):
            raise ConfigError(f"{where}: base_url: holds a credential (in its user info or query string; "
                              f"not shown); give the endpoint alone, e.g. https://api.example.com/v1, and "
                              f"{_KEY_HELP}")


def _random_looking(name: str) -> bool:
    """A long token of letters and digits without the underscores variable names have: a key."""
    return (len(name) >= 20 and "_" not in name and any(c.isdigit() for c in name)
            and any(c.islower() for c in name))


def _secret_query(query: str) -> bool:
    names = {pair.partition("=")[0].lower().replace("-", "_") for pair in query.split("&")}
    return bool(names & {"api_key", "apikey", "key", "token", "access_token", "secret", "password", "auth"})


_SENSITIVE_FIELDS = frozenset({"api_key_env", "base_url"})


def _describe(exc: ValidationError, prefix: str = "") -> str:
    """pydantic's errors as 'field.path: what was expected (got value)'; values of fields that
    may hold a secret are never echoed."""
    return describe_validation(exc, prefix=f"{prefix}." if prefix else "", hidden=_SENSITIVE_FIELDS, what="profile")


def _profiles_from_tables(tables: Mapping[str, Any], source: str) -> dict[str, VendorProfile]:
    return {name: parse_profile(name, table, source) for name, table in tables.items()}

