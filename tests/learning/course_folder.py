"""A trainer's course folder written by the tests: two modules, Markdown and HTML
lessons, audio (Ogg pages), pictures, a multiple choice and a reading exercise."""

from __future__ import annotations

from pathlib import Path

from appliance.demo_zim import illustration_png

OGG = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e\x01vorbis" + b"\x00" * 200

MANIFEST = """id = "alpha-1"
title = "Lire et écrire — ߞߊ߬ߙߊ߲"
language = "bm"
description = "Un module d'alphabétisation audio d'abord"

[[modules]]
title = "Les voyelles"

[[modules.lessons]]
id = "a"
title = "La lettre a"
file = "lessons/a.md"
audio = "media/a.ogg"

[[modules.lessons]]
id = "chat"
title = "Le chat"
file = "lessons/chat.html"

[[modules.lessons.exercises]]
type = "choice"
question = "Où est le chat ?"
audio = "media/q.ogg"
answer = 1
choices = [{ text = "chien", image = "media/chien.png" },
           { text = "chat", image = "media/chat.png", audio = "media/chat.ogg" }]

[[modules]]
title = "Lire"

[[modules.lessons]]
id = "lire"
title = "Lis à voix haute"
audio = "media/a.ogg"

[[modules.lessons.exercises]]
type = "read_aloud"
text = "a  ba  ma"
"""


def write_course(root: Path, manifest: str = MANIFEST) -> Path:
    (root / "lessons").mkdir(parents=True, exist_ok=True)
    (root / "media").mkdir(exist_ok=True)
    (root / "course.toml").write_text(manifest, encoding="utf-8")
    (root / "lessons" / "a.md").write_text(
        "# a\n\nLa lettre **a** comme *ami*.\n\n<script>alert(1)</script>\n", encoding="utf-8"
    )
    (root / "lessons" / "chat.html").write_text("<p>Le <b>chat</b> dort.</p>", encoding="utf-8")
    for name in ("a.ogg", "q.ogg", "chat.ogg"):
        (root / "media" / name).write_bytes(OGG)
    (root / "media" / "chien.png").write_bytes(illustration_png(16, (200, 80, 0)))
    (root / "media" / "chat.png").write_bytes(illustration_png(16, (0, 80, 200)))
    return root


# The course with a "take a photo of your writing" exercise too (remote coaching tests).
COACHING_MANIFEST = (
    MANIFEST
    + """
[[modules.lessons]]
id = "ecrire"
title = "Écris ߓߊ"
file = "lessons/chat.html"

[[modules.lessons.exercises]]
type = "photo"
text = "Écris : ba  ma"
"""
)
