"""What a regional admin asked for (issue 15), on SQLite and PostgreSQL: every export
opens in a French spreadsheet (UTF-8 with a BOM, ';', French headers, names not ids,
formulas defused); filters in the URL (dates, commune, theme, session type) with a
clear message for a value that means nothing; per-session figures from the latest
snapshots (a replayed older one changes nothing); region-wide totals; the share of
women among officials."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid

import pytest

from central import service
from central.models import Site, utcnow
from tests.central.harness import post
from tests.central.test_central_admin import PASSWORD, login

HOSTILE = '=HYPERLINK("http://evil.example","clic")'


def _ago(days: int, hour: int = 10) -> dt.datetime:
    d = utcnow() - dt.timedelta(days=days)
    return d.replace(hour=hour, minute=0, second=0)


def _iso(t: dt.datetime) -> str:
    return t.isoformat() + "Z"


def session_events(
    start_seq: int,
    title: str,
    kind: str,
    starts: dt.datetime,
    capacity: int,
    counts: dict | None,
    cancelled: bool = False,
) -> list:
    """A session.saved snapshot (and an attendance.counts one) as the box writes them."""
    sid = str(uuid.uuid4())
    evs = [
        [
            start_seq,
            str(uuid.uuid4()),
            "session.saved",
            _iso(starts),
            {
                "session": sid,
                "title": title,
                "kind": kind,
                "room": "Salle",
                "starts_at": _iso(starts),
                "duration_min": 120,
                "capacity": capacity,
                "reserved_women": 2,
                "reserved_youth": 1,
                "release_min": 30,
                "cancelled": cancelled,
                "series": None,
            },
        ]
    ]
    if counts is not None:
        evs.append(
            [
                start_seq + 1,
                str(uuid.uuid4()),
                "attendance.counts",
                _iso(starts),
                {"session": sid, "day": starts.date().isoformat(), "by_group": {}, **counts},
            ]
        )
    return evs


def seed_region(call, capp) -> dict:
    """Two sites of Kayes (and one of Kita) with posts, answers, sessions, officials and
    visits, all arrived through the sync path."""
    sites = {}
    for slug, region, commune in (
        ("nioro", "Kayes", "Nioro"),
        ("diema", "Kayes", "Diéma"),
        ("kita", "Kita", "Kita"),
    ):
        from sync_contract import protocol

        key = protocol.new_private_key()
        name = f"Espace {slug}" if slug != "diema" else HOSTILE
        _s, code = call(service.create_site, slug, name, region, [commune])
        call(
            service.enroll,
            capp.config["DATA_DIR"],
            {"code": code, "box_id": str(uuid.uuid4()), "public_key": protocol.public_b64(key)},
        )
        sites[slug] = call(lambda s=slug: Site.get(Site.slug == s))
    nioro = sites["nioro"]
    evs = []
    # Posts: 4 in Nioro over the last days, one hostile; a woman and a young man.
    for i, (theme, gender, age, body) in enumerate(
        (
            ("water", "f", "18-35", "Le forage est en panne"),
            ("health", "m", "36-60", HOSTILE),
            ("water", "f", "over60", "+33 6 00 00 00 00 appelle-moi"),
            ("land", "", "", "@mairie les champs"),
        )
    ):
        created = _iso(_ago(9 - i))
        evs.append(
            [
                len(evs) + 1,
                str(uuid.uuid4()),
                "post.created",
                created,
                post(
                    uuid.UUID(int=100 + i),
                    body,
                    theme=theme,
                    gender=gender,
                    age_group=age,
                    commune="Nioro",
                    created_at=created,
                ),
            ]
        )
    # The first post answered at the kiosk 6 hours after it was posted.
    evs.append(
        [
            len(evs) + 1,
            str(uuid.uuid4()),
            "answer.created",
            _iso(_ago(9, 16)),
            {
                "uuid": str(uuid.uuid4()),
                "post_uuid": str(uuid.UUID(int=100)),
                "official": None,
                "official_name": "Le maire",
                "body": "Réparé lundi",
                "created_at": _iso(_ago(9, 16)),
            },
        ]
    )
    # Sessions: a training held (10 seats, 8 present of whom 1 walk-in, 5 women, 3
    # young), a debate held (20 seats, 12 present, 6 women, 9 young), one cancelled,
    # one to come.
    evs += session_events(
        len(evs) + 1,
        "Formation compta",
        "training",
        _ago(3),
        10,
        {"booked": 9, "present": 8, "no_show": 2, "walk_in": 1, "women": 5, "youth": 3},
    )
    evs += session_events(
        len(evs) + 1,
        HOSTILE,
        "debate",
        _ago(2),
        20,
        {"booked": 15, "present": 12, "no_show": 4, "walk_in": 1, "women": 6, "youth": 9},
    )
    evs += session_events(len(evs) + 1, "Annulée", "training", _ago(1), 10, None, cancelled=True)
    evs += session_events(
        len(evs) + 1, "À venir", "debate", utcnow() + dt.timedelta(days=3), 10, None
    )
    # Officials: 3 saved, one corrected later (a snapshot: counted once), 1 woman of 2
    # with a gender given.
    for oid, gender in ((1, "f"), (2, "m"), (3, ""), (2, "m")):
        evs.append(
            [
                len(evs) + 1,
                str(uuid.uuid4()),
                "official.saved",
                _iso(_ago(10)),
                {
                    "id": oid,
                    "name": f"Élu {oid}",
                    "role": "conseiller",
                    "commune": "Nioro",
                    "gender": gender,
                    "created_at": _iso(_ago(10)),
                },
            ]
        )
    call(service.exchange, nioro, {"push": [["civic", 0, evs]], "n": 1})
    call(
        service.exchange,
        nioro,
        {
            "push": [
                [
                    "usage",
                    0,
                    [
                        [
                            1000,
                            str(uuid.uuid4()),
                            "usage.visits",
                            _iso(_ago(2)),
                            {"day": _ago(2).date().isoformat(), "visits": 40},
                        ]
                    ],
                ]
            ],
            "n": 2,
        },
    )
    # Diéma: one post, one session held.
    dev = [
        [
            1,
            str(uuid.uuid4()),
            "post.created",
            _iso(_ago(4)),
            post(
                None,
                "Diéma question",
                theme="education",
                commune="Diéma",
                gender="m",
                age_group="under18",
                created_at=_iso(_ago(4)),
            ),
        ]
    ]
    dev += session_events(
        2,
        "MOOC",
        "mooc_group",
        _ago(4),
        5,
        {"booked": 5, "present": 4, "no_show": 1, "walk_in": 0, "women": 1, "youth": 4},
    )
    call(service.exchange, sites["diema"], {"push": [["civic", 0, dev]], "n": 1})
    # Kita (another region): never shown to Kayes' admin.
    call(
        service.exchange,
        sites["kita"],
        {
            "push": [
                [
                    "civic",
                    0,
                    session_events(
                        1,
                        "Kita",
                        "training",
                        _ago(3),
                        50,
                        {
                            "booked": 50,
                            "present": 50,
                            "no_show": 0,
                            "walk_in": 0,
                            "women": 50,
                            "youth": 50,
                        },
                    ),
                ]
            ],
            "n": 1,
        },
    )
    call(service.create_admin, "awa", PASSWORD, "regional", "Kayes")
    return sites


def french_sheet(resp) -> list[list[str]]:
    """Open an export as a French spreadsheet does: UTF-8 with its BOM, ';' cells."""
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "text/csv"
    assert resp.data.startswith(b"\xef\xbb\xbf"), "no BOM: Excel would read Latin-1"
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig")), delimiter=";"))
    assert rows and all(len(r) == len(rows[0]) for r in rows), "ragged rows"
    return rows


def column(rows, name):
    i = rows[0].index(name)
    return [r[i] for r in rows[1:]]


def test_every_export_opens_in_a_french_spreadsheet(call, capp, cclient):
    seed_region(call, capp)
    login(cclient, "awa")
    exports = {
        "/sites.csv": ["site", "nom", "région", "dernier_contact"],
        "/board.csv": [
            "site",
            "code",
            "uuid",
            "publié_le",
            "commune",
            "thème",
            "type",
            "état",
            "genre",
            "tranche_d_âge",
            "canal",
            "texte",
        ],
        "/usage.csv?days=30": ["site", "jour", "mesure", "nombre", "femmes", "jeunes"],
        "/sessions.csv": [
            "site",
            "séance",
            "titre",
            "type",
            "début",
            "annulée",
            "tenue",
            "places",
            "réservées",
            "présents",
            "sans_réservation",
        ],
        "/audit.csv": ["le", "administrateur", "action", "détail"],
        "/learning.csv": ["site", "cours", "étape"],
        "/directory/directory.csv": ["uuid", "site", "nom", "type", "village"],
    }
    sheets = {}
    for url, header in exports.items():
        rows = french_sheet(cclient.get(url))
        assert rows[0][: len(header)] == header, url
        assert all(h == h.lower() and " " not in h for h in rows[0]), url
        sheets[url] = rows
    board = sheets["/board.csv"]
    # Names, not ids; gender and age group where the poster gave them, never a name.
    assert set(column(board, "thème")) == {"Eau", "Santé", "Foncier", "Éducation"}
    assert column(board, "genre").count("Femme") == 2 and "" in column(board, "genre")
    assert "18 à 35 ans" in column(board, "tranche_d_âge")
    assert "Réparé" in "".join(column(board, "réponses"))
    # Formulas are text: a cell starting with = + - @ gets a leading quote.
    texts = column(board, "texte")
    assert "'" + HOSTILE in texts and HOSTILE not in texts
    assert "'+33 6 00 00 00 00 appelle-moi" in texts and "'@mairie les champs" in texts
    assert "'" + HOSTILE in column(sheets["/sites.csv"], "nom")
    assert "'" + HOSTILE in column(sheets["/sessions.csv"], "titre")
    assert "Débat" in column(sheets["/sessions.csv"], "type")
    assert "Visites" in column(sheets["/usage.csv?days=30"], "mesure")


def test_filters_live_in_the_url_and_bad_ones_say_why(call, capp, cclient):
    seed_region(call, capp)
    login(cclient, "awa")
    day = _ago(4).date().isoformat()
    board = french_sheet(cclient.get(f"/board.csv?from={day}&to={day}"))
    assert column(board, "texte") == ["Diéma question"]  # Nioro's were other days
    board = french_sheet(cclient.get("/board.csv?commune=Nioro&theme=water"))
    assert len(board) == 3 and set(column(board, "commune")) == {"Nioro"}
    page = cclient.get("/board?commune=Nioro&theme=water").get_data(as_text=True)
    # The export link keeps the filters: a filtered view can be shared.
    assert "/board.csv?commune=Nioro&amp;theme=water" in page
    sessions = french_sheet(cclient.get("/sessions.csv?type=debate"))
    assert set(column(sessions, "type")) == {"Débat"} and len(sessions) == 3
    assert "Kita" not in cclient.get("/sessions").get_data(as_text=True)
    sessions = french_sheet(cclient.get("/sessions.csv?commune=Diéma"))
    assert column(sessions, "titre") == ["MOOC"]
    for url, param in (
        ("/board?from=30/11/2026", "from"),
        ("/usage?from=2026-12-01&to=2026-11-01", "from"),
        ("/sessions?type=<script>", "type"),
        ("/report?site=kita", "site"),
        ("/usage?days=abc", "days"),
        ("/board?status=lost", "status"),
        ("/sessions?from=2026-02-30", "from"),
        ("/report?from=1990-01-01&to=2026-01-01", "from"),
        ("/sessions?commune=%01", "commune"),
    ):
        resp = cclient.get(url)
        text = resp.get_data(as_text=True)
        assert resp.status_code == 400, (url, text[:300])
        assert f'id="filter-error" data-param="{param}">« {param} »' in text or (
            f'data-param="{param}">La période' in text
        ), (url, text[:2000])
        assert "<script>" not in text.split("<main>")[1]
    # In French by default, saying how to write it.
    text = cclient.get("/board?from=30/11/2026").get_data(as_text=True)
    assert "pas une date : écrivez-la ainsi 2026-11-30" in text
    resp = cclient.get("/board.csv?to=tomorrow")
    assert resp.status_code == 400 and "« to »" in resp.get_data(as_text=True)


def test_per_session_figures_come_from_the_latest_snapshots(call, capp, cclient):
    sites = seed_region(call, capp)
    login(cclient, "awa")
    rows = {r[2]: r for r in french_sheet(cclient.get("/sessions.csv?site=nioro"))[1:]}
    training = rows["Formation compta"]
    # places, réservées, présents, sans_réservation, absents, femmes, jeunes
    assert training[7:14] == ["10", "9", "8", "1", "2", "5", "3"]
    assert training[14:] == ["0,625", "0,375", "0,800"]
    assert rows["Annulée"][5:7] == ["oui", "non"] and rows["À venir"][6] == "non"
    # The box sends a newer snapshot (3 more came); then an older one is replayed
    # from a USB stick: the figures are the newest, never a sum.
    sid = call(
        lambda: json.loads(
            next(s.payload for s in service.Record.select() if '"Formation compta"' in s.payload)
        )
    )
    newer = {
        "session": sid["session"],
        "day": _ago(3).date().isoformat(),
        "by_group": {},
        "booked": 9,
        "present": 9,
        "no_show": 1,
        "walk_in": 1,
        "women": 6,
        "youth": 3,
    }
    call(
        service.exchange,
        sites["nioro"],
        {
            "push": [
                ["civic", 0, [[101, str(uuid.uuid4()), "attendance.counts", _iso(_ago(3)), newer]]]
            ],
            "n": 5,
        },
    )
    older = dict(newer, present=8, women=5)
    call(
        service.exchange,
        sites["nioro"],
        {
            "push": [
                ["civic", 0, [[7, str(uuid.uuid4()), "attendance.counts", _iso(_ago(3)), older]]]
            ],
            "n": 1,
        },
        carried=True,
    )
    rows = {r[2]: r for r in french_sheet(cclient.get("/sessions.csv?site=nioro"))[1:]}
    assert rows["Formation compta"][9] == "9" and rows["Formation compta"][12] == "6"
    page = cclient.get("/sessions?site=nioro").get_data(as_text=True)
    assert 'data-figure="held">2<' in page and 'data-figure="seats">30<' in page
    assert 'data-figure="present">21<' in page  # 9 + 12
    assert 'data-figure="fill">70 %<' in page  # 21 / 30


def test_region_wide_totals_and_women_among_officials(call, capp, cclient):
    seed_region(call, capp)
    login(cclient, "awa")
    page = cclient.get("/usage?days=30").get_data(as_text=True)
    figures = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', page))
    assert figures["visits"] == "40"
    assert figures["posts"] == "5"  # 4 in Nioro, 1 in Diéma; Kita is another region
    assert figures["answered"] == "1 / 5"
    assert figures["median_hours"] == "6 h"
    assert figures["held"] == "3" and figures["present"] == "24"  # 8 + 12 + 4
    assert figures["fill"] == "69 %"  # 24 / 35
    assert figures["women_share"] == "50 %"  # (5 + 6 + 1) / 24
    assert figures["officials_women"] == "50 % (1/2)"
    page = cclient.get("/usage?days=30&type=training").get_data(as_text=True)
    assert 'data-figure="held">1<' in page and 'data-figure="present">8<' in page


@pytest.mark.parametrize("url", ["/sessions", "/report", "/usage", "/board"])
def test_pages_render_with_no_data(call, capp, cclient, url):
    call(service.create_admin, "awa", PASSWORD, "regional", "Kayes")
    login(cclient, "awa")
    assert cclient.get(url).status_code == 200
