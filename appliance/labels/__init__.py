"""Spoken labels: any label of the visitor paths corrected and recorded in the room.

``models`` (the label events), ``rules`` (record, check, look up), ``keys`` (what can
be labelled), ``web`` (the clips and the speaker beside each control), ``kiosk`` (the
Labels tab), ``cli`` and ``export`` (``espace i18n export``). See docs/labels.md.
"""

from flask_babel import lazy_gettext


def contribute(registry) -> None:
    from . import kiosk  # noqa: F401  (its routes join the kiosk's blueprint)
    from .cli import i18n
    from .web import bp

    registry.blueprint(bp)
    registry.command(i18n)
    registry.kiosk_tab("kiosk.labels", lazy_gettext("Labels"), "labels", order=60)
