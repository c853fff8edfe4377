"""The production WSGI server: waitress.

Why waitress on a Raspberry Pi serving ~30 phones: one process (one copy of the app
in memory, well under 60 MB), a fixed pool of threads for the app, and an
asynchronous loop that writes responses to the sockets. A phone on a weak Wi-Fi
signal slowly draining a video does not hold an app thread: the thread hands the
body to the loop and serves the next request. File bodies (``wsgi.file_wrapper``)
are streamed from disk, not loaded into memory. Pure Python, no compiler needed.
"""

from __future__ import annotations

import logging

from flask import Flask


def run(app: Flask, host: str, port: int, threads: int = 8) -> None:
    from waitress import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve(app, host=host, port=port, threads=threads, ident="espace",
          # Phones come and go; a dead connection is dropped after 2 minutes.
          channel_timeout=120, connection_limit=200,
          # Bodies are bounded by the app (MAX_CONTENT_LENGTH); let waitress agree.
          max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + 65536,
          clear_untrusted_proxy_headers=True)
