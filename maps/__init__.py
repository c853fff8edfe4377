"""The commune on a map (issue 18): offline vector tiles of the area (PMTiles, built
by ``espace map build`` from an OpenStreetMap extract), a light map page, and a
directory of civil-society organisations and public services that citizens propose
and facilitators moderate at the kiosk. See docs/maps.md.

A capability package: it imports the core (``appliance``) and ``sync_contract``, and
nothing of another capability; :func:`contribute` gives the composition root its
blueprints, ``espace map`` command, sweep, home tile, kiosk tab and pull handler.
"""


def contribute(registry) -> None:
    from appliance.msgids import N_

    from . import cli, sync

    # Pages and sweep by reference: imported by the app and the worker only.
    registry.blueprint("maps.views:bp")
    registry.blueprint("maps.kiosk:bp")
    registry.tile("maps.map_page", N_("Map"), "map", order=60)
    registry.kiosk_tab("maps_kiosk.index", N_("Map"), "map", order=60)
    registry.command(cli.map_group)
    registry.sweep("map_builds", "maps.build:sweep_site")
    registry.sync_handler(sync.register_sync)
