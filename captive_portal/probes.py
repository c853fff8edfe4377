"""Connectivity probes: what each OS fetches to decide whether it is online, and
the exact answer it expects.

The table lives in ``probes.toml`` (one row per OS family, each citing its source).
:func:`find` matches a request's Host and path; :func:`answer` builds the reply:
before acceptance a redirect to the portal, so the OS opens its sign-in sheet;
after, the OS's own success answer, so the phone stays on the Wi-Fi. Both carry
``Cache-Control: no-store`` so a phone never remembers the wrong one.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from flask import Response

TABLE = Path(__file__).with_name("probes.toml")
NO_STORE = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache",
            "Expires": "0"}


@dataclass(frozen=True)
class Probe:
    name: str
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    status: int
    body: str
    content_type: str
    user_agent: str
    headers: dict = field(default_factory=dict, hash=False)
    location: str = ""  # "portal": always a redirect to the portal (Windows' /redirect)

    def urls(self) -> list[str]:
        """Every URL of this probe (a "*" path becomes a typical one), for tests."""
        any_path = "/hotspot-detect.html" if self.name.startswith("apple") else "/"
        return [f"http://{h}{any_path if p == '*' else p}" for h in self.hosts
                for p in self.paths]


@functools.cache
def load(path: Path = TABLE) -> tuple[Probe, ...]:
    with open(path, "rb") as f:
        rows = tomllib.load(f)["probe"]
    probes = []
    for row in rows:
        probes.append(Probe(
            name=row["name"], hosts=tuple(h.lower() for h in row["hosts"]),
            paths=tuple(row["paths"]), status=int(row["status"]), body=row["body"],
            content_type=row["content_type"], user_agent=row["user_agent"],
            headers=dict(row.get("headers", {})), location=row.get("location", "")))
    return tuple(probes)


@functools.cache
def _index(path: Path = TABLE) -> dict[tuple[str, str], Probe]:
    index: dict[tuple[str, str], Probe] = {}
    for probe in load(path):
        for host in probe.hosts:
            for p in probe.paths:
                index.setdefault((host, p), probe)
    return index


def probe_hosts(path: Path = TABLE) -> set[str]:
    return {h for p in load(path) for h in p.hosts}


def normalise_host(host: str) -> str:
    """``Host`` header without port or trailing dot, lower case (Ubuntu's probe
    asks for ``connectivity-check.ubuntu.com.``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") == 1 else host.rstrip(".")


def find(host: str, path: str) -> Probe | None:
    """The probe a request for ``host`` + ``path`` is, or None."""
    host = normalise_host(host)
    index = _index()
    return index.get((host, path)) or index.get((host, "*"))


def answer(probe: Probe, accepted: bool, portal: str) -> Response:
    """The reply to a probe: the OS's success answer once accepted, else a 302 to
    ``portal``."""
    if probe.location == "portal" or not accepted:
        response = Response("", status=302, headers={"Location": portal, **NO_STORE})
        response.headers.pop("Content-Type", None)
        return response
    response = Response(probe.body.encode(), status=probe.status,
                        headers={**probe.headers, **NO_STORE})
    if probe.content_type:
        response.headers["Content-Type"] = probe.content_type
    else:
        response.headers.pop("Content-Type", None)
    return response
