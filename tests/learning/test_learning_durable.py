"""An acknowledged progress write survives kill -9 (WAL, synchronous=FULL): the row and
the snapshot for central, together; and the learner's pages in French."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

from appliance.db import database

CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from appliance import create_app
    from appliance.db import database
    from learning import catalogue, rules
    from tests.support import make_site

    tmp = Path(sys.argv[1])
    app = create_app({"SITE": make_site(tmp), "SITE_DIR": tmp, "TESTING": True,
                      "SECRET_KEY": "t"})
    with app.app_context():
        database.connect(reuse_if_open=True)
        course = catalogue.course(app.config["SITE"].content_dir, "alpha-1")[1]
        learner = rules.new_learner("Awa", "f", "under35")
        rules.record(course, learner, "chat", "answered", {0: 1})
        print(learner.code, flush=True)  # acknowledged
        sys.stdin.read()  # killed here
""")


def test_acknowledged_progress_survives_kill_9(course_app, tmp_path):
    from learning.models import Learner, Progress

    database.close()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    ) as child:
        try:
            code = child.stdout.readline().strip()
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    assert len(code) == 6, code
    from appliance.models import OutboxEvent

    with course_app.app_context(), database.connection_context():
        learner = Learner.get(Learner.code == code)
        row = Progress.get(learner=learner, lesson="chat")
        assert row.score == 1 and row.done_at
        snap = [
            json.loads(e.payload)
            for e in OutboxEvent.select().where(OutboxEvent.kind == "learning.progress")
        ]
        assert snap and snap[-1]["learner"] == learner.ref and snap[-1]["done"] == 1


def test_the_learner_pages_are_in_french(course_app):
    client = course_app.test_client()
    client.set_cookie("lang", "fr")
    page = client.get("/learn/").get_data(as_text=True)
    assert "Tapez votre code d&#39;apprenant" in page or "Tapez votre code d'apprenant" in page
