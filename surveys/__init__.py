"""Field surveys on the hotspot: XLSForms converted and validated (pyxform, ODK
Validate), an OpenRosa server for ODK Collect and KoboCollect (``/odk``), submissions
stored atomically with their attachments and synced to central. See docs/surveys.md."""


def contribute(registry) -> None:
    """Its OpenRosa blueprint, the browser's forms and their home tile, kiosk tab,
    ``espace survey``, pull handler and sweep."""
    from appliance.msgids import N_

    from . import cli, sync

    # Pages and sweep by reference: imported by the app and the worker only.
    registry.blueprint("surveys.openrosa:bp")
    registry.blueprint("surveys.webforms:bp")
    registry.tile("webforms.index", N_("Surveys"), "survey", order=70)
    registry.blueprint("surveys.kiosk:bp")
    registry.kiosk_tab("kiosk_surveys.index", N_("Surveys"), "new", order=70)
    registry.command(cli.survey)
    registry.sync_handler(sync.register_sync)
    registry.sweep("survey_submissions", "surveys.submissions:sweep_site")
