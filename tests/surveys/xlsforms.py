"""XLSForm files written by the tests (openpyxl, pyxform's own dependency), the way a
survey designer writes them, and a client that speaks to the box as ODK Collect does."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import openpyxl

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18"
    b"\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(200) + b"\xff\xd9"


def write_xlsform(
    path: Path,
    form_id: str = "menage",
    version: str = "1",
    survey: list[list] | None = None,
    media: dict[str, bytes] | None = None,
    title: str = "Enquête ménage",
    choices: list[list] | None = None,
) -> Path:
    """An XLSForm with French labels; ``media`` files are written beside it."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "survey"
    rows = survey or [
        [
            "type",
            "name",
            "label::English (en)",
            "label::French (fr)",
            "media::image::French (fr)",
            "media::image::English (en)",
        ],
        ["text", "nom", "Name", "Nom du chef de ménage", "", ""],
        ["integer", "taille", "Household size", "Taille du ménage", "logo.png", "logo.png"],
        ["select_one oui_non", "eau", "Drinking water?", "Eau potable ?", "", ""],
        ["image", "photo", "Photo", "Photo", "", ""],
        ["audio", "voix", "Voice", "Voix", "", ""],
    ]
    for row in rows:
        sheet.append(row)
    sheet = book.create_sheet("choices")
    for row in choices or [
        ["list_name", "name", "label::English (en)", "label::French (fr)"],
        ["oui_non", "oui", "Yes", "Oui"],
        ["oui_non", "non", "No", "Non"],
    ]:
        sheet.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "form_title", "default_language"])
    settings.append([form_id, version, title, "French (fr)"])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    for name, data in (media if media is not None else {"logo.png": PNG}).items():
        (path.parent / name).write_bytes(data)
    return path


def submission_xml(
    form_id: str = "menage",
    version: str = "1",
    instance: str | None = None,
    nom: str = "Awa Traoré",
    photo: str = "photo.jpg",
) -> bytes:
    instance = instance or f"uuid:{uuid.uuid4()}"
    return (
        f'<?xml version="1.0"?><data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{version}">'
        f"<nom>{nom}</nom><taille>6</taille><eau>oui</eau><photo>{photo}</photo><voix/>"
        f"<meta><instanceID>{instance}</instanceID></meta></data>"
    ).encode()


def multipart(parts: list[tuple[str, str, str, bytes]]) -> tuple[bytes, str]:
    """(body, content type) of parts (field, filename, type, bytes), as Collect sends."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for field, filename, ctype, data in parts:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class Collect:
    """A client that behaves like ODK Collect's OpenRosa code (okhttp-digest): every
    request first without credentials, the 401's Digest challenge answered with
    qop=auth and MD5, the nonce reused with an increasing nc."""

    def __init__(self, base: str, username: str = "", password: str = "") -> None:
        self.base = base.rstrip("/")
        self.username, self.password = username, password
        self.challenge: dict | None = None
        self.nc = 0
        self.exchanges: list[tuple[str, str, int]] = []

    def _authorization(self, method: str, uri: str) -> str:
        c = self.challenge
        self.nc += 1
        nc, cnonce = f"{self.nc:08x}", uuid.uuid4().hex[:16]
        ha1 = _md5(f"{self.username}:{c['realm']}:{self.password}")
        ha2 = _md5(f"{method}:{uri}")
        response = _md5(f"{ha1}:{c['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        return (
            f'Digest username="{self.username}", realm="{c["realm"]}", '
            f'nonce="{c["nonce"]}", uri="{uri}", response="{response}", qop=auth, '
            f'nc={nc}, cnonce="{cnonce}", algorithm=MD5, opaque="{c.get("opaque", "")}"'
        )

    def raw(
        self, method: str, url: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict, bytes]:
        parts = urlsplit(url if "://" in url else self.base + url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            head = {
                "X-OpenRosa-Version": "1.0",
                "User-Agent": "org.odk.collect.android/v2024",
                **(headers or {}),
            }
            if self.challenge and self.username:
                head["Authorization"] = self._authorization(method, path)
            conn.request(method, path, body=body, headers=head)
            resp = conn.getresponse()
            data = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            self.exchanges.append((method, path, resp.status))
            return resp.status, hdrs, data
        finally:
            conn.close()

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict, bytes]:
        status, hdrs, data = self.raw(method, url, body, headers)
        if status == 401 and self.username and "www-authenticate" in hdrs:
            # A first request, or a nonce the server calls stale: take the challenge.
            self.challenge = dict(re.findall(r'(\w+)="?([^",]+)"?', hdrs["www-authenticate"][7:]))
            self.nc = 0
            status, hdrs, data = self.raw(method, url, body, headers)
        return status, hdrs, data

    def submit(
        self, xml: bytes, files: list[tuple[str, str, bytes]] = ()
    ) -> tuple[int, dict, bytes]:
        status, hdrs, _ = self.request("HEAD", "/submission")
        assert status == 204, status
        body, ctype = multipart(
            [("xml_submission_file", "submission.xml", "text/xml", xml)]
            + [(name, name, mime, data) for name, mime, data in files]
        )
        return self.request("POST", "/submission", body, {"Content-Type": ctype})
