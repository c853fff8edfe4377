"""The offline library: ZIM files read with libzim."""


def contribute(registry) -> None:
    """The library's pages, kiosk tab, home tile, ``espace content``, jobs and sweep
    (see :mod:`espace.registry`)."""
    from appliance.msgids import N_

    from . import cli

    # Pages, jobs and sweep by reference: imported by the app and the worker only.
    registry.blueprint("content_cache.views:bp")  # with the kiosk tab's blueprint nested
    registry.tile("content.library", N_("Learn"), "learn", order=10)
    registry.kiosk_tab("content.kiosk_library.index", N_("Library"), "learn",
                       order=90)
    # `espace content ...`; its commands import lazily.
    registry.command(cli.content)
    registry.job("usage_rollup", "content_cache.jobs:usage_rollup_job", "interval",
                 "roll up usage events", hours=1)
    registry.job("content_download", "content_cache.jobs:content_download_job", "interval",
                 "resume content downloads", minutes=10)
    registry.job("content_precompress", "content_cache.jobs:content_precompress_job",
                 "interval", "compress new books' text once", minutes=10)
    registry.sweep("content_imports", "content_cache.jobs:sweep_imports")
