"""Learning indicators (issue 20): per course and site, learners who started,
progressed and completed, by gender and age group.

Counted from the latest ``learning.progress`` snapshot of each (learner hash, course)
that the site's boxes sent (``Snapshot``, step 0003), never from summed events: a
replayed or reordered batch changes nothing. Central never sees a name or a code."""

from __future__ import annotations

import json

from flask import Blueprint, render_template

from sync_contract import kinds

from . import auth
from .admin import french_csv
from .models import Snapshot

bp = Blueprint("learning", __name__, template_folder="templates")

STATES = ("started", "progressed", "completed")
COLUMNS = ("all", "gender:f", "gender:m", "gender:-", "age:under35", "age:35plus", "age:-")
# The export's headers and states, in French as a spreadsheet shows them (issue 15).
FRENCH_COLUMNS = ("tous", "femmes", "hommes", "genre_non_dit", "moins_de_35_ans",
                  "35_ans_et_plus", "âge_non_dit")
FRENCH_STATES = {"started": "commencé", "progressed": "progressé", "completed": "terminé"}


def figures(sites) -> list[dict]:
    """One row per (site, course, state) with counts per column; started counts every
    learner with a snapshot, progressed includes completed (as the box's
    ``learning.rules.figures``)."""
    by_site = {s.id: s for s in sites}
    if not by_site:
        return []
    counts: dict[tuple[int, str], dict[str, dict[str, int]]] = {}
    query = Snapshot.select(Snapshot.site, Snapshot.payload).where(
        (Snapshot.kind == kinds.LEARNING_PROGRESS.name) & Snapshot.site.in_(list(by_site))
    )
    for site_id, payload in query.tuples():
        try:
            p = json.loads(payload)
            state = p.get("state") if p.get("state") in STATES else "started"
            course = str(p["course"])[:80]
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        gender = p.get("gender") if p.get("gender") in ("f", "m") else "-"
        age = p.get("age_group") if p.get("age_group") in ("under35", "35plus") else "-"
        table = counts.setdefault((site_id, course), {s: {} for s in STATES})
        for s in STATES[: STATES.index(state) + 1]:
            for key in ("all", f"gender:{gender}", f"age:{age}"):
                table[s][key] = table[s].get(key, 0) + 1
    rows = []
    for (site_id, course), table in sorted(
        counts.items(), key=lambda kv: (by_site[kv[0][0]].slug, kv[0][1])
    ):
        for state in STATES:
            rows.append(
                {"site": by_site[site_id], "course": course, "state": state, "counts": table[state]}
            )
    return rows


@bp.get("/learning")
@auth.login_required
def index():
    rows = figures(list(auth.visible_sites()))
    return render_template("central/learning.html", rows=rows, columns=COLUMNS)


@bp.get("/learning.csv")
@auth.login_required
def export():
    rows = figures(list(auth.visible_sites()))
    return french_csv(
        "apprentissage",
        ["site", "cours", "étape", *FRENCH_COLUMNS],
        (
            [r["site"].slug, r["course"], FRENCH_STATES[r["state"]],
             *(r["counts"].get(c, 0) for c in COLUMNS)]
            for r in rows
        ),
    )
