"""Central keeps the region's directory (SQLite and a real PostgreSQL): a box's
place.saved is kept once per uuid (newest snapshot), shared with the region's boxes as
place.shared, refused when hostile or another site's; exported as CSV (UTF-8 BOM, ';',
formulas guarded) and as OSM XML for mappers."""

from __future__ import annotations

import csv
import io
import re
import uuid
import xml.etree.ElementTree as ET

from central import service
from central.directory import DirectoryPlace
from central.models import Audit
from tests.central.test_central_admin import PASSWORD, login
from tests.central.test_central_sync import enrolled, exchange

PLACE = {
    "uuid": "",
    "name": "Association Benkadi des femmes",
    "kind": "women_association",
    "village": "Kayes N'Di",
    "lat": 14.455,
    "lon": -11.43,
    "contact": "Mme Diallo",
    "activities": "Maraîchage; savon",
    "languages": ["bm", "fr"],
    "led_by_women": True,
    "led_by_youth": False,
    "removed": False,
    "updated_at": "2026-11-30T08:00:00Z",
}


def _saved(seq, **values):
    payload = {**PLACE, **values}
    return [seq, str(uuid.uuid4()), "place.saved", "2026-11-30T08:00:00Z", payload]


def test_a_box_entry_is_kept_shared_with_the_region_and_exported(call, capp, cclient):
    nioro_key, nioro = enrolled(call, capp, "nioro")
    yel_key, yel = enrolled(call, capp, "yelimane")
    other_key, other = enrolled(call, capp, "bamako-1", region="Bamako")
    place_uuid = str(uuid.uuid4())
    push = [
        _saved(1, uuid=place_uuid, name="Old name"),
        _saved(2, uuid=place_uuid),  # the newer snapshot wins
        _saved(3, uuid=str(uuid.uuid4()), name="<script>alert(1)</script>"),
        _saved(
            4,
            uuid=str(uuid.uuid4()),
            name='=HYPERLINK("x")',
            kind="school",
            activities="",
            led_by_women=False,
        ),
    ]
    assert exchange(call, nioro_key, nioro, [["civic", 0, push]])["acks"] == {"civic": 4}
    rows = call(lambda: {p.uuid: p.name for p in DirectoryPlace.select()})
    assert rows[place_uuid] == "Association Benkadi des femmes" and len(rows) == 2
    assert "holds markup" in " ".join(call(lambda: [a.detail for a in Audit.select()]))

    # Yélimané (same region) pulls it; Bamako does not
    down = exchange(call, yel_key, yel, [])["down"]
    shared = [d for d in down if d[1] == "place.shared"]
    assert {d[2]["uuid"] for d in shared} >= {place_uuid}
    assert all(d[2]["origin"] == "nioro" for d in shared)
    assert not [
        d for d in exchange(call, other_key, other, []).get("down", []) if d[1] == "place.shared"
    ]

    # another site may not overwrite nioro's entry
    exchange(call, yel_key, yel, [["civic", 0, [_saved(1, uuid=place_uuid, name="Hijack")]]])
    assert (
        call(lambda: DirectoryPlace.get(DirectoryPlace.uuid == place_uuid).name)
        == "Association Benkadi des femmes"
    )

    call(service.create_admin, "awa", PASSWORD, "regional", "Kayes")
    login(cclient, "awa")
    page = cclient.get("/directory/").get_data(as_text=True)
    assert "Association Benkadi des femmes" in page and "<script>alert" not in page

    r = cclient.get("/directory/directory.csv")
    assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(r.data[3:].decode("utf-8")), delimiter=";"))
    assert table[0][:4] == ["uuid", "site", "nom", "type"]
    by_name = {row[2]: row for row in table[1:]}
    assert by_name["Association Benkadi des femmes"][8] == "Maraîchage; savon"
    assert by_name["Association Benkadi des femmes"][9] == "bm,fr"
    assert '\'=HYPERLINK("x")' in by_name  # a formula is shown as text

    r = cclient.get("/directory/directory.osm")
    assert r.status_code == 200
    root = ET.fromstring(r.data)
    assert root.tag == "osm" and root.get("upload") == "never"
    nodes = root.findall("node")
    assert all(int(n.get("id")) < 0 for n in nodes) and len(nodes) == 2
    tags = {
        n.find("tag[@k='name']").get("v"): {t.get("k"): t.get("v") for t in n.findall("tag")}
        for n in nodes
    }
    benkadi = tags["Association Benkadi des femmes"]
    assert benkadi["office"] == "association" and benkadi["association"] == "women"
    assert "contact" not in " ".join(benkadi) and "Diallo" not in r.get_data(as_text=True)
    assert tags['=HYPERLINK("x")']["amenity"] == "school"
    assert re.search(rb"lat='14\.4550000' lon='-11\.4300000'", r.data)

    # not logged in: no export
    assert cclient.application.test_client().get("/directory/directory.csv").status_code == 302
