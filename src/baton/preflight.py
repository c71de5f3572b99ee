"""Preflight: check everything a run needs before any run starts.

A run whose every call fails on a missing key or a wrong URL used to finish "0 passed, 0 failed,
6 infra errors" with exit 0. :func:`check_matrix` runs once before the engine opens the run
directory and raises one :class:`PreflightError` listing every problem, each naming the vendor
profile (or system), the variable or URL, and what to do — so nothing starts:

* every vendor profile the matrix may call (its vendors, the vendors systems pin roles to, the
  judge) resolves its key: the variable named by ``api_key_env`` is set and not empty;
* every remote endpoint answers a cheap request, ``GET {base_url}/models`` (no tokens spent):
  a refused connection, a timeout or a 5xx is "unreachable", a 401/403 is "key rejected"; any
  other answer (a 404 from a server without that route included) shows the endpoint is up;
* every adapter target (``params.target`` of callable and langgraph systems) and every
  ``module:attr`` architecture imports (:func:`baton.runners.adapters.callable.load_system_target`);
  a crewai system's environment exists and its crew imports there (its sidecars start).

The embedded vendors (the simulated vendor and the local model, without a ``base_url``) are
checked the way they always were: by starting them, on the first call that needs them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from baton.errors import BatonError, ConfigError
from baton.matrix import Matrix, vendors_used
from baton.redact import redact
from baton.systems import SystemConfig
from baton.vendors import VendorProfile

if TYPE_CHECKING:
    import httpx2 as httpx  # imported where a remote vendor is checked

__all__ = ["PreflightError", "check_matrix", "check_systems", "check_vendor", "check_vendors"]

_CHECK_TIMEOUT_S = 10.0
_TARGET_ARCHITECTURES = ("callable", "langgraph")


class PreflightError(BatonError):
    """Something a run needs is missing; ``problems`` has one line per vendor or system."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listing = "\n  - ".join(self.problems)
        super().__init__(f"preflight failed, nothing was run:\n  - {listing}")


def _embedded(profile: VendorProfile) -> bool:
    from baton.vendor_kinds import VENDOR_KINDS

    return (profile.kind in VENDOR_KINDS and VENDOR_KINDS.get(profile.kind).start is not None
            and profile.base_url is None)


async def check_vendor(profile: VendorProfile, client: httpx.AsyncClient) -> str | None:
    """What is wrong with one vendor profile, or None when it is ready."""
    import httpx2 as httpx  # the model client's transport, loaded for the run anyway; httpx would also load rich and click

    where = f"vendor profile '{profile.name}'"
    from baton.vendor_kinds import kind_of

    try:
        kind_of(profile)
    except ConfigError as exc:
        return str(exc)
    if _embedded(profile):
        return None
    headers = {}
    if profile.api_key_env:
        key = os.environ.get(profile.api_key_env)
        if not key:
            return (f"{where}: environment variable {profile.api_key_env} (api_key_env) is not set; "
                    f"export it with the key (export {profile.api_key_env}=...) or leave the vendor out")
        headers["Authorization"] = f"Bearer {key}"
    if not profile.base_url:
        return f"{where}: base_url: required for kind '{profile.kind}'; give the endpoint, e.g. https://host/v1"
    url = profile.base_url.rstrip("/") + "/models"
    try:
        response = await client.get(url, headers=headers,
                                    timeout=min(profile.timeout_s, _CHECK_TIMEOUT_S))
    except httpx.TimeoutException:
        return (f"{where}: {profile.base_url} did not answer within {min(profile.timeout_s, _CHECK_TIMEOUT_S):g} s; "
                f"check base_url and that the server is up")
    except httpx.HTTPError as exc:
        reason = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
        return (f"{where}: cannot reach {profile.base_url} ({redact(reason)}); check base_url and that "
                f"the server is running")
    if response.status_code in (401, 403):
        if profile.api_key_env:
            return (f"{where}: {profile.base_url} rejected the key in {profile.api_key_env} "
                    f"(HTTP {response.status_code}); check the key and that it is for this endpoint")
        return (f"{where}: {profile.base_url} needs a key (HTTP {response.status_code}); set api_key_env "
                f"to the name of the environment variable that holds it")
    if response.status_code >= 500:
        return (f"{where}: {profile.base_url} answered HTTP {response.status_code} to GET /models; "
                f"the service looks down, try again later")
    return None


async def check_vendors(profiles: Iterable[VendorProfile]) -> list[str]:
    """Problems of every remote vendor, checked concurrently."""
    remote = list({p.name: p for p in profiles}.values())
    if not any(not _embedded(p) for p in remote):
        return []
    from baton.client import new_http_client  # TLS set up only for an https:// vendor, once per run

    async with new_http_client(follow_redirects=True) as client:
        found = await asyncio.gather(*(check_vendor(p, client) for p in remote))
    return [problem for problem in found if problem]


def check_systems(systems: Iterable[SystemConfig]) -> list[str]:
    """Problems of the systems' architectures and adapter targets (each imported once)."""
    from baton.runners.adapters.callable import load_system_target
    from baton.runners.registry import ARCHITECTURES

    problems = []
    for system in systems:
        try:
            ARCHITECTURES.get(system.architecture)
            if system.architecture == "langgraph":  # gateway env first (the graph may build its own
                from baton.runners.adapters.langgraph import check_system  # client at import), then keys

                check_system(system)
            elif system.architecture == "autogen":  # AutoGen installed, the function builds a team
                from baton.runners.adapters.autogen import check_system as check_team

                check_team(system)
            elif system.architecture == "crewai":  # its environment exists and the crew imports there
                from baton.runners.adapters.crewai import check_system as check_crew

                check_crew(system)
            elif system.architecture in _TARGET_ARCHITECTURES:
                load_system_target(system)
            if "retriever" in system.params:  # a retriever name resolves before any run starts
                from baton.runners.retrieval import retriever_factory

                try:
                    retriever_factory(system.params)
                except ConfigError as exc:
                    where = f"{system.source}: " if system.source else ""
                    raise ConfigError(f"{where}system {system.name!r}: {exc}") from None
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


async def check_matrix(matrix: Matrix, profiles: Mapping[str, VendorProfile], *,
                       judge: str | None = None) -> None:
    """Raise :class:`PreflightError` unless every system loads and every vendor is ready."""
    used = vendors_used(matrix, profiles)
    if judge is not None and judge in profiles:
        used.append(profiles[judge])
    problems = check_systems(matrix.systems)
    problems += await check_vendors(used)
    if problems:
        raise PreflightError(problems)
