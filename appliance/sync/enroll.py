"""Enrolment: the box makes its key pair and registers the public half with central
using a one-time code; it keeps central's public key to check every response.

Idempotent: enrolling again with the same code and key (the response was lost) gets the
same answer from central; the private key never leaves the box."""

from __future__ import annotations

import json

from sync_contract import protocol

from ..db import database
from ..errors import EspaceError
from ..models import Meta
from . import state
from .transport import Connection


class EnrolmentRefused(EspaceError):
    """Central refused the enrolment code."""


def enroll(url: str, code: str, data_dir, ca_file: str = "", version: str = "0",
           timeout: float = 30.0) -> dict:
    key = state.ensure_key(data_dir)
    body = json.dumps({"v": protocol.VERSION, "code": code.strip().upper(),
                       "box_id": state.box_id(), "public_key": protocol.public_b64(key),
                       "ver": version}).encode()
    with Connection(url, ca_file, timeout) as conn:
        status, data = conn.post(protocol.PATH_ENROLL, body, "application/json")
    try:
        answer = json.loads(data)
    except ValueError:
        answer = {}
    if status != 200:
        raise EnrolmentRefused(f"central refused the enrolment: "
                               f"{answer.get('error', status)}",
                               "ask the regional admin for a new code (codes work once)")
    protocol.load_public(answer["central_key"])  # refuse garbage before storing it
    with database.atomic("IMMEDIATE"):
        Meta.set_value("sync:central_url", url.rstrip("/"))
        Meta.set_value("sync:central_key", answer["central_key"])
        Meta.set_value("sync:site_id", answer.get("site_id", ""))
    return answer
