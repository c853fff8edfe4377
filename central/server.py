"""Central's HTTP server: werkzeug's threaded server, which hands the request body to
the app as it arrives (a cut upload keeps what arrived), with a short Server header."""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler


class QuietHandler(WSGIRequestHandler):
    server_version = "central"
    sys_version = ""

    def version_string(self) -> str:
        return "c"
