"""``espace demo``: a development data directory with a site file, a small demo ZIM
and demo communes, officials and sessions. Idempotent: run it again and it keeps
what is there."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from . import db as dbmod
from . import migrations, settings
from .demo_zim import build_demo_zim
from .models import Commune, Official
from .pins import hash_pin
from .programme.models import Session

DEMO_PIN = "1234"

COMMUNES = ["Nioro", "Diaye Coura", "Yélimané"]

OFFICIALS = [
    ("Mariam Diallo", "Maire", "Nioro", "f"),
    ("Boubacar Traoré", "Premier adjoint", "Nioro", "m"),
    ("Fatoumata Sissoko", "Conseillère", "Diaye Coura", "f"),
    ("Mamadou Camara", "Maire", "Yélimané", "m"),
]

# The directory (issue 18) around Nioro du Sahel: approximate points, for the demo only.
MAP_AREA = [-9.64, 15.19, -9.54, 15.27]
BOX_LOCATION = [15.2306, -9.5906]
VILLAGES = [
    {"name": "Nioro centre", "lat": 15.2306, "lon": -9.5906},
    {"name": "Diaye Coura", "lat": 15.2550, "lon": -9.5600},
    {"name": "Tourounguoumbé", "lat": 15.2050, "lon": -9.6200},
]
PLACES = [  # name, kind, village, activities, languages, led by women, led by youth
    ("Mairie de Nioro", "town_hall", "Nioro centre", "État civil, budget de la commune",
     ["fr", "bm", "snk"], False, False),
    ("CSCom de Nioro", "health_centre", "Nioro centre", "Consultations, vaccination, "
     "maternité", ["fr", "bm"], False, False),
    ("Association des femmes Benkadi", "women_association", "Diaye Coura", "Maraîchage, "
     "tontine, alphabétisation", ["bm", "snk"], True, False),
    ("Jeunesse active de Tourounguoumbé", "youth_group", "Tourounguoumbé", "Salubrité, "
     "sport, débats", ["bm", "fr"], False, True),
    ("Espace connecté (démo)", "espace_connecte", "Nioro centre", "MOOC, débats, "
     "formations au numérique", ["fr", "bm", "snk"], False, False),
]

SESSIONS = [  # title, kind, days from today, hour (Bamako = UTC), minutes, capacity, women, youth
    ("Utiliser WhatsApp pour sa commune", "training", 0, 10, 90, 12, 4, 4),
    ("Groupe MOOC : gestion communale", "mooc_group", 1, 15, 120, 10, 3, 3),
    ("Grin thématique : l'assainissement", "debate", 2, 16, 120, 30, 10, 10),
    ("Rencontre élus–citoyens", "officials_meeting", 4, 9, 180, 40, 15, 10),
]


def site_document(data_dir: Path) -> str:
    pin_hash = hash_pin(DEMO_PIN)
    return f"""# Demo site for development: `espace demo` wrote this file.
[site]
id = "demo-kayes"
name = "Espace connecté (démo)"
communes = {settings.toml_value(COMMUNES)}
languages = ["fr", "bm", "snk", "en"]
default_language = "fr"

[hotspot]
ssid = "Espace connecté démo"

[map]
area = {settings.toml_value(MAP_AREA)}
box_location = {settings.toml_value(BOX_LOCATION)}
villages = {settings.toml_value(VILLAGES)}

[kiosk]
facilitators = [{{ name = "Awa (démo)", pin_hash = "{pin_hash}" }}]

[storage]
# Relative to this file: the demo keeps everything in this folder.
data_dir = "."
"""


def create_demo(data_dir: Path, echo: Callable[[str], None] = print) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    site_file = data_dir / "site.toml"
    if not site_file.exists():
        tmp = site_file.with_suffix(".tmp")
        tmp.write_text(site_document(data_dir), encoding="utf-8")
        os.replace(tmp, site_file)
        echo(f"wrote {site_file} (demo facilitator PIN: {DEMO_PIN})")
    site = settings.load(site_file)
    site.content_dir.mkdir(parents=True, exist_ok=True)
    zim = site.content_dir / "demo-commune_fr.zim"
    if not zim.exists():
        build_demo_zim(zim)
        echo(f"built {zim}")
    from content_cache.precompressed import build_missing

    for r in build_missing(site.content_dir, reserve_mb=site.storage.reserve_mb,
                           budget_mb=site.storage.precompressed_mb):
        echo(f"precompressed {r}")  # as the worker does on a box
    database = dbmod.open_database(site.data_dir)
    migrations.migrate(database)
    with database.atomic():
        communes = {n: Commune.get_or_create(name=n)[0] for n in COMMUNES}
        if not Official.select().exists():
            for name, role, commune, gender in OFFICIALS:
                Official.create(name=name, role=role, commune=communes[commune], gender=gender)
        if not Session.select().exists():
            today = dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0, second=0,
                                                    microsecond=0)
            for title, kind, day, hour, minutes, cap, women, youth in SESSIONS:
                Session.create(uuid=str(uuid.uuid4()), title=title, kind=kind,
                               starts_at=today + dt.timedelta(days=day, hours=hour),
                               duration_min=minutes, capacity=cap,
                               reserved_women=women, reserved_youth=youth,
                               room="Salle principale", facilitator="Awa")
        _directory(site)
    database.close()
    return site_file


def _directory(site) -> None:
    """Publish the demo's directory entries once, through the directory's own rules."""
    from maps import directory

    if directory.Place.select().exists() or not site.map.area:
        return
    for name, kind, village, activities, langs, women, youth in PLACES:
        form = {"name": name, "kind": kind, "village": village, "activities": activities,
                "languages": langs, "led_by_women": women, "led_by_youth": youth}
        proposed = directory.propose(form, site, "", confirm_new=True)
        directory.publish(proposed.proposal, "Awa (démo)")
