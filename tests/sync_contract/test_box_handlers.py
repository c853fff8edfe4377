"""The box applies pulled kinds through the handlers their packages register; an
unknown kind from a newer central is kept in sync_inbox, counted, never fatal."""

from __future__ import annotations

from appliance.sync import handlers, state
from appliance.sync.client import Options, RunResult, SyncClient


def test_unknown_and_malformed_down_records_are_kept_not_fatal(db, tmp_path):
    client = SyncClient(Options(url="", data_dir=tmp_path, content_dir=tmp_path,
                                budget_bytes=0))
    client.res = RunResult()
    down = [[1, "config.changed", {"sync.windows": ["22:00-06:00"]}],
            [2, "answer.created", {"uuid": "a", "post_uuid": 5}],
            [3, "announcement.created", {"uuid": "n", "body": "Réunion samedi"}]]
    client._apply([], {"down": down})
    rows = {r.id: (r.kind, r.applied) for r in state.SyncInbox.select()}
    assert rows == {1: ("config.changed", ""), 2: ("answer.created", ""),
                    3: ("announcement.created", "inbox")}
    assert state.cursor() == 3  # the pull moved on: nothing blocks behind them
    assert handlers.unknown_count() == 1
