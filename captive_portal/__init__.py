"""What a visitor sees: the landing page, languages, the board, the programme."""


def contribute(registry) -> None:
    """The visitor's blueprints, home tiles and jobs (see :mod:`espace.registry`)."""
    from appliance.msgids import N_

    # accept first: its before_app_request answers connectivity probes and foreign
    # Host names before any other hook or route sees them. By reference: imported by
    # the app only (espace.registry).
    for module in ("accept", "portal", "board", "programme"):
        registry.blueprint(f"captive_portal.{module}:bp")
    registry.tile("board.index", N_("Ask your officials"), "ask", order=20)
    registry.tile("programme.index", N_("Programme"), "programme", order=30)
    registry.tile("portal.about", N_("About this space"), "about", order=90)
    registry.job("visits_rollup", "captive_portal.jobs:visits_rollup_job", "interval",
                 "roll up the days of visits", hours=1)
    registry.sweep("voice_notes", "captive_portal.jobs:recover_voice_notes")
