"""Sites in trouble, in words (issue 15): the admins' list says when a box's syncs
failed and why (the box tells central when the link comes back), when central refused
its box (revoked, bad signature, replayed request), whether its clock is right, and
how full its disk is; each state is a sentence with a symbol, never a colour alone."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import uuid

import pytest

from central import service
from central.models import Site
from sync_contract import protocol
from tests.central.harness import (
    CentralServer,
    box_options,
    central_call,
    enrol_box,
    free_port,
    make_central,
)
from tests.central.test_central_admin import PASSWORD, login
from tests.central.test_central_sync import enrolled


def states(page: str, column: str) -> list[tuple[str, str]]:
    """(level, text) of the states in a column (sync, clock, disk) of the sites page."""
    cell = re.search(rf'<td data-label="[^"]*" class="{column}[^"]*">(.*?)</td>', page, re.S)
    assert cell, column
    return [
        (level, html.unescape(text))
        for level, text in re.findall(r'data-state="(\w+)">([^<]*)<', cell.group(1))
    ]


def sites_page(client) -> str:
    resp = client.get("/")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_a_box_reports_its_failed_syncs_and_its_clock_when_the_link_returns(app, db, tmp_path):
    from appliance.sync.client import CentralRefused, SyncClient
    from appliance.sync.transport import LinkError

    capp = make_central(tmp_path / "central")
    with CentralServer(capp) as server:
        enrol_box(capp, server.url, app.config["DATA_DIR"])
        site = app.config["SITE"]
        central_call(capp, service.create_admin, "awa", PASSWORD, "regional", "Kayes")
        client = capp.test_client()
        login(client, "awa")
        # Central unreachable: the box keeps the failed run (central cannot know).
        with (
            pytest.raises(LinkError),
            SyncClient(box_options(site, f"http://127.0.0.1:{free_port()}", timeout=2)) as c,
        ):
            c.run(force=True)
        # The link comes back, the box's clock three hours behind.
        behind = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
        with SyncClient(box_options(site, server.url, now=lambda: behind)) as c:
            assert c.run(force=True).result == "ok"
        row = central_call(capp, lambda: Site.get(Site.slug == "nioro"))
        assert -3 * 3600 - 120 < row.clock_offset < -3 * 3600 + 120
        assert row.last_error and row.last_error_since
        page = sites_page(client)
        assert states(page, "clock") == [("bad", "3 h de retard")]
        sync = states(page, "sync")
        assert sync[0][0] == "ok" and sync[1][0] == "warn", sync
        assert "échouent depuis" in sync[1][1] and row.last_error[:20] in sync[1][1]
        # The next good run says nothing failed any more; the clock is right again.
        with SyncClient(box_options(site, server.url)) as c:
            assert c.run(force=True).result == "ok"
        page = sites_page(client)
        assert [s[0] for s in states(page, "sync")] == ["ok"]
        assert states(page, "clock") == [("ok", "À l'heure")]
        assert states(page, "disk")[0][0] in ("ok", "warn", "bad")
        # Central revokes the box: its next sync is refused, and the list says why.
        central_call(capp, lambda: service.revoke(Site.get(Site.slug == "nioro")))
        with pytest.raises(CentralRefused), SyncClient(box_options(site, server.url)) as c:
            c.run(force=True)
        sync = states(sites_page(client), "sync")
        assert sync[-1][0] == "bad" and "Refusé par central" in sync[-1][1], sync
        assert "révoqué" in sync[-1][1]


def test_replays_and_bad_signatures_are_kept_on_the_site(call, capp, cclient):
    key, box_id = enrolled(call, capp)
    call(service.create_admin, "awa", PASSWORD, "regional", "Kayes")
    message = {
        "push": [],
        "cursor": 0,
        "want": 1000,
        "n": 1,
        "st": {"disk": 150, "clock": int(dt.datetime(1970, 1, 2).timestamp())},
    }
    frame = protocol.encode_request(key, box_id, protocol.PATH_EXCHANGE, message)
    assert cclient.post(protocol.PATH_EXCHANGE, data=frame).status_code == 200
    assert cclient.post(protocol.PATH_EXCHANGE, data=frame).status_code == 409
    site = call(lambda: Site.get())
    assert site.refusal.startswith("replay:") and site.refusal_at is not None
    login(cclient, "awa")
    page = sites_page(cclient)
    assert states(page, "clock") == [("bad", "Erronée : la boîte se croit le 1970-01-02")]
    assert states(page, "disk") == [("bad", "Presque plein : 150 Mo libres")]
    sync = states(page, "sync")
    assert sync[-1][0] == "warn" and "requête rejouée" in sync[-1][1], sync
    # Someone signs with another key in this box's name.
    forged = protocol.encode_request(
        protocol.new_private_key(), box_id, protocol.PATH_EXCHANGE, dict(message, n=2)
    )
    assert cclient.post(protocol.PATH_EXCHANGE, data=forged).status_code == 403
    assert call(lambda: Site.get()).refusal.startswith("signature:")
    sync = states(sites_page(cclient), "sync")
    assert sync[-1][0] == "bad" and "mauvaise signature" in sync[-1][1]
    # An unknown box id changes nothing anywhere; nor does a flood (one write a minute).
    stranger = protocol.encode_request(
        protocol.new_private_key(), str(uuid.uuid4()), protocol.PATH_EXCHANGE, message
    )
    assert cclient.post(protocol.PATH_EXCHANGE, data=stranger).status_code == 403
    before = call(lambda: Site.get()).refusal_at
    for _ in range(3):
        cclient.post(protocol.PATH_EXCHANGE, data=forged)
    assert call(lambda: Site.get()).refusal_at == before
    rows = list(
        csv.reader(io.StringIO(cclient.get("/sites.csv").data.decode("utf-8-sig")), delimiter=";")
    )
    assert rows[0][-5:] == [
        "erreur_de_la_boîte",
        "erreur_depuis",
        "refus_de_central",
        "refus_le",
        "avance_horloge_s",
    ]
    assert rows[1][rows[0].index("refus_de_central")].startswith("signature:")
