"""The commune on a map (issue 18): offline vector tiles of the area (PMTiles, built
by ``espace map build`` from an OpenStreetMap extract), a light map page, and a
directory of civil-society organisations and public services that citizens propose
and facilitators moderate at the kiosk. See docs/maps.md.

A capability package: it imports the core (``appliance``) and ``sync_contract``, and
nothing of another capability; :func:`contribute` gives the composition root its
blueprints, ``espace map`` command, sweep and kiosk tab.
"""


def contribute(registry) -> None:
    from . import build, cli, views

    registry.blueprint(views.bp)
    registry.command(cli.map_group)
    registry.sweep("map_builds", build.sweep_site)
