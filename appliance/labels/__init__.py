"""Spoken labels: any label of the visitor paths corrected and recorded in the room.

``models`` (the label events), ``rules`` (record, check, look up), ``keys`` (what can
be labelled), ``web`` (the clips and the speaker beside each control), ``kiosk`` (the
Labels tab), ``cli`` and ``export`` (``espace i18n export``). See docs/labels.md.
"""


def blueprint():
    """The clips' blueprint; the Labels tab's routes join the kiosk's (the app imports
    every blueprint reference before registering any)."""
    from . import kiosk  # noqa: F401  (its routes join the kiosk's blueprint)
    from .web import bp

    return bp


def contribute(registry) -> None:
    from ..msgids import N_
    from .cli import i18n

    registry.blueprint("appliance.labels:blueprint")
    registry.command(i18n)
    registry.kiosk_tab("kiosk.labels", N_("Labels"), "labels", order=60)
