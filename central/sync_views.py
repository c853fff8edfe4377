"""The sync endpoints boxes talk to (see sync_contract/protocol.py for the format)."""

from __future__ import annotations

import contextlib
import json

from flask import Blueprint, Response, current_app, request

from sync_contract import protocol

from . import service
from .service import CentralError

bp = Blueprint("sync", __name__)


def _frame_response(req: protocol.Request, message: dict, tail: bytes = b"") -> Response:
    key = current_app.config["CENTRAL_KEY"]
    body = protocol.encode_response(key, req.digest, message, tail)
    resp = Response(body)
    # Bytes are money on the box's side: no Content-Type (the path says what it is).
    del resp.headers["Content-Type"]
    return resp


@bp.errorhandler(CentralError)
def _refused(e: CentralError):
    return Response(str(e), status=e.status, content_type="text/plain")


@bp.post(protocol.PATH_ENROLL)
def enroll():
    from . import auth
    from .db import database

    with database.atomic():
        if auth.enrol_throttled():
            return Response('{"error":"too many wrong enrolment codes: wait 15 minutes"}',
                            status=429, content_type="application/json")
    try:
        body = json.loads(request.get_data(cache=False) or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
        answer = service.enroll(current_app.config["DATA_DIR"], body)
    except CentralError as e:
        if e.status == 403:  # a wrong code: guesses are counted per address
            with database.atomic():
                auth.record_failure(f"enrol:{auth.address()}")
        return Response(json.dumps({"error": str(e)}), status=e.status,
                        content_type="application/json")
    except ValueError:
        return Response('{"error":"bad JSON"}', status=400, content_type="application/json")
    return Response(json.dumps(answer), content_type="application/json")


@contextlib.contextmanager
def _noting_refusals(frame: bytes):
    """Keep on the site why its box was refused (revoked, bad signature, replayed):
    the box cannot tell the admins itself until it is accepted again."""
    try:
        yield
    except service.Replayed as e:
        _note(frame, "replay", e)
        raise
    except CentralError as e:
        if e.status == 403:
            _note(frame, "revoked" if "revoked" in str(e) else "signature", e)
        raise


def _note(frame: bytes, code: str, error: Exception) -> None:
    try:
        box_id = protocol.peek_box(frame)
    except protocol.ProtocolError:
        return
    service.note_refusal(box_id, f"{code}: {error}")


@bp.post(protocol.PATH_EXCHANGE)
def exchange():
    frame = request.get_data(cache=False)
    with _noting_refusals(frame):
        site, req = service.verify(frame, protocol.PATH_EXCHANGE)
        try:
            with _malformed():
                message = service.exchange(site, req.message, len(frame))
        except protocol.ProtocolError as e:
            raise CentralError(str(e)) from None
    return _frame_response(req, message)


def _reader(length: int):
    """Read the raw request body as it arrives: what a cut connection delivered is kept."""
    stream = request.environ["wsgi.input"]
    state = {"left": length}

    def read(n: int) -> bytes:
        if state["left"] <= 0:
            return b""
        want = min(n, state["left"])
        reader = getattr(stream, "read1", None)
        data = reader(want) if reader else stream.read(want)
        state["left"] -= len(data)
        return data

    return read


def _read_exact(read, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        data = read(n - got)
        if not data:
            raise CentralError("request cut short")
        parts.append(data)
        got += len(data)
    return b"".join(parts)


@bp.post(protocol.PATH_BLOB)
def blob():
    length = request.content_length or 0
    read = _reader(length)
    start = _read_exact(read, 88)
    try:
        head = start + _read_exact(read, protocol.head_length(start) - 88)
    except protocol.ProtocolError as e:
        raise CentralError(str(e)) from None
    with _noting_refusals(head):
        site, req = service.verify(head, protocol.PATH_BLOB)
    tail_len = length - len(head)
    with _malformed():
        message = service.receive_blob(current_app.config["DATA_DIR"], req.message, read,
                                       tail_len)
    return _frame_response(req, {"t": "blob", **message})


@bp.post(protocol.PATH_FILE)
def file_piece():
    frame = request.get_data(cache=False)
    with _noting_refusals(frame):
        site, req = service.verify(frame, protocol.PATH_FILE)
    with _malformed():
        message, tail = service.file_piece(current_app.config["DATA_DIR"], req.message)
    return _frame_response(req, message, tail)


@contextlib.contextmanager
def _malformed():
    """A signed message with a field missing or of the wrong type (a box's bug, or a
    stolen key) is a 400 naming it, never a 500."""
    try:
        yield
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CentralError(f"malformed message ({type(e).__name__}: {e})"[:200]) from None
