"""The box's system units of the secure origin, rendered with the others by
``provisioning.render.render_files`` (same context: data_dir, espace_bin, site_path...)."""

from __future__ import annotations

from pathlib import Path

import jinja2

SYSTEMD = "/etc/systemd/system"
TEMPLATES = ("espace-tls.service", "espace-tls-reload.path", "espace-tls-reload.service")


def render(site, ctx: dict, symlink) -> dict:
    """{absolute path: text or ``symlink(target)``} for the secure origin's units."""
    env = jinja2.Environment(  # noqa: S701 - systemd units, not HTML
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    ctx = {**ctx, "tls_port": site.secure_origin.port}
    out: dict = {
        f"{SYSTEMD}/{name}": env.get_template(f"{name}.j2").render(ctx) for name in TEMPLATES
    }
    out[f"{SYSTEMD}/multi-user.target.wants/espace-tls.service"] = symlink(
        f"{SYSTEMD}/espace-tls.service"
    )
    out[f"{SYSTEMD}/paths.target.wants/espace-tls-reload.path"] = symlink(
        f"{SYSTEMD}/espace-tls-reload.path"
    )
    # Debian's nginx.service would take port 80 from the portal with its default site:
    # masked; nginx runs only as espace-tls.service.
    out[f"{SYSTEMD}/nginx.service"] = symlink("/dev/null")
    return out
