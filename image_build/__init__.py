"""The SD image builder."""


def contribute(registry) -> None:
    """``espace image ...``: SD images (see :mod:`espace.registry`)."""
    from .cli import image

    registry.command(image)
