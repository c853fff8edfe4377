"""The TLS terminator: nginx (Debian's ``nginx-light``) on port 443 of the hotspot address,
in front of the portal's waitress on loopback.

Why nginx rather than TLS inside waitress: waitress has no TLS, and wrapping its
asynchronous loop's sockets in Python's ``ssl`` would put every handshake and record
on the Python side of the GIL that also renders the pages; nginx does both in C, keeps
a session cache so a phone's next connections resume without a full handshake, and
costs about 3 MB of memory (one worker). Figures in docs/secure-origin.md
(``bench/portal.py --tls``).

nginx runs only while the box holds a certificate (``espace-tls.service`` has
``ConditionPathExists``) and is reloaded when the sync installs a new one
(``espace-tls-reload.path`` watches the file). It adds ``X-Forwarded-For`` and
``X-Forwarded-Proto``; waitress trusts them from loopback only
(``appliance.server.run``), so the portal sees the phone's address (for the
allow-list and the salted visit counts) and knows the request came over HTTPS.
"""

from __future__ import annotations

from pathlib import Path

from . import store

CONFIG = """\
# Rendered by espace; edit site.toml, not this file.
worker_processes 1;
pid {run_dir}/nginx.pid;
error_log {run_dir}/nginx-error.log warn;
{user_line}
events {{ worker_connections 512; }}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {run_dir}/body;
    proxy_temp_path {run_dir}/proxy;
    fastcgi_temp_path {run_dir}/fastcgi;
    uwsgi_temp_path {run_dir}/uwsgi;
    scgi_temp_path {run_dir}/scgi;
    client_max_body_size {max_body};
    # Phones come back many times an hour: resume instead of a full handshake.
    ssl_session_cache shared:espace:2m;
    ssl_session_timeout 4h;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers off;
    # waitress allows 24 connections per address; every HTTPS phone reaches it from
    # loopback, so the same limit per phone applies here.
    limit_conn_zone $binary_remote_addr zone=perphone:1m;
    limit_conn perphone {per_phone};
    upstream espace {{
        server {upstream};
        keepalive 16;
    }}
    server {{
        listen {listen} ssl;
        server_name _;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://espace;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
            # Voice notes stream to the app as they arrive; long media stream out.
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


def render_nginx(
    data_dir: Path | str,
    run_dir: Path | str,
    *,
    listen: str,
    upstream: str,
    max_body: int,
    user: str = "",
) -> str:
    """nginx.conf for the box: TLS on ``listen`` (``10.42.0.1:443``) to ``upstream``
    (``127.0.0.1:80``), with the key and chain of ``DATA_DIR/tls``."""
    from appliance.server import PER_ADDRESS

    d = store.tls_dir(data_dir)
    return CONFIG.format(
        run_dir=run_dir,
        per_phone=PER_ADDRESS,
        user_line=f"user {user};" if user else "",
        max_body=max_body,
        upstream=upstream,
        listen=listen,
        cert=d / "fullchain.pem",
        key=d / "key.pem",
    )


def write_nginx(data_dir: Path | str, run_dir: Path | str, **kw) -> Path:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "nginx.conf"
    store.write_atomic(path, render_nginx(data_dir, run_dir, **kw).encode())
    return path
