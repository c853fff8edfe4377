"""A secure origin for an offline box: its own key, a name under the region's domain,
a certificate obtained by central (ACME DNS-01) and brought by the sync, and the
visitor pages served on ``https://<site>.<domain>/`` when it is valid.
See docs/secure-origin.md."""


def contribute(registry) -> None:
    """Its blueprint, HSTS and page context, set on the app (see :mod:`espace.registry`)."""
    from . import sync
    from .cli import tls

    registry.app_setup("secure_origin", "secure_origin.web:init_app")  # by the app only
    # What it does with tls.name and tls.certificate from central.
    registry.sync_handler(sync.register_sync)
    # `espace tls status|nginx-conf`: the box's name, certificate and TLS listener.
    registry.command(tls)
