"""SMS benchmark: messages the box handles per second, and what an answer costs in SMS
parts in French and in Bambara (with and without the GSM-7 transliteration).

    .venv/bin/python bench/sms.py [--messages 300] [--e2e 20]

1. Rules: ``--messages`` stored messages (questions in French and Bambara, supports,
   PROG, bookings, unknown words) handled in this process, each one SQLite transaction
   fsynced with its post, outbox event and queued reply: messages/s.
2. End to end (skipped without gammu-smsd): ``--e2e`` messages injected into Gammu's
   dummy phone, read by the real gammu-smsd, stored and answered by RunOnReceive (a
   new Python process per message, as on the box), replies sent: messages/s.
3. Parts per answer: sample answers of an official, short, medium and long, counted
   as sent (standalone pieces "1/n"), as UCS-2 and transliterated to GSM-7.

What we compare against: a busy espace receives a few SMS a minute; an SMS costs
25-50 FCFA, so a Bambara answer that takes twice the parts of its French twin costs
twice as much; the transliteration should bring it back near the French count.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ANSWERS = {
    "fr": {
        "short": "Le forage de Diaye Coura sera réparé la semaine prochaine.",
        "medium": "Merci pour votre question. Le conseil a voté le budget de la "
        "réparation du forage de Diaye Coura. Les travaux commencent lundi et "
        "durent trois semaines ; pendant ce temps, un camion-citerne passera "
        "chaque matin devant l'école. Venez à la réunion du 12 pour en parler.",
        "long": (
            "Merci pour votre question. Le conseil communal a examiné la situation "
            "de l'eau à Diaye Coura lors de sa session du mois dernier. " * 4
        )
        + "Venez à l'espace connecté pour écouter la réponse complète du maire.",
    },
    "bm": {
        "short": "Diaye Coura kɔlɔn bɛna dilan dɔgɔkun nataa.",
        "medium": "I ni ce i ka ɲininkali la. Komini ɲɛmɔgɔw ye wari sɔrɔ Diaye Coura "
        "kɔlɔn dilanni kama. Baara bɛ daminɛ ntɛnɛn, a bɛna dɔgɔkun saba kɛ ; "
        "o waati la, ji mobili bɛna na lekɔli da la sɔgɔma o sɔgɔma. Aw ka na "
        "lajɛ la kalo tile 12.",
        "long": (
            "I ni ce i ka ɲininkali la. Komini ɲɛmɔgɔw ye Diaye Coura ji ko "
            "lajɛ u ka ɲɔgɔnye la kalo tɛmɛnen. " * 4
        )
        + "Aw ka na espace connecté la ka meri ka jaabi bɛɛ lamɛn.",
    },
}


def parts_table() -> list[str]:
    from sms import gsm

    lines = [
        "parts per answer (standalone single-part SMS, '1/n' prefixes included):",
        f"  {'':8} {'chars':>5} {'as written':>11} {'GSM-7 translit.':>16}",
    ]
    for lang, answers in ANSWERS.items():
        for size, text in answers.items():
            text = f"Jaabi/Réponse K7Q2MX, Meri: {text}"
            raw = len(gsm.split(text, 50))
            plain = len(gsm.split(gsm.transliterate(text), 50))
            enc = gsm.cost(text).encoding
            lines.append(f"  {lang + ' ' + size:8} {len(text):5} {raw:6} ({enc}) {plain:10}")
    return lines


def make_box(tmp: Path, budget: int = 10000):
    from appliance import create_app
    from appliance.db import database
    from tests.sms.conftest import write_site
    from tests.support import make_site

    doc = make_site(tmp)
    doc["site"].update(languages=["fr", "bm", "snk"], default_language="fr")
    doc["sms"] = {
        "enabled": True,
        "connection": "dummy",
        "modem": str(tmp / "phone"),
        "daily_budget_parts": budget,
        "messages_per_hour": 200,
    }
    doc["board"] = {"posts_per_hour": 1000}
    site_file = write_site(tmp / "site.toml", doc)
    app = create_app({"SITE_FILE": str(site_file), "SECRET_KEY": "bench"})
    app.config["SITE_PATH"] = str(site_file)
    ctx = app.app_context()
    ctx.push()
    database.connect(reuse_if_open=True)
    return app, ctx


def bench_rules(n: int) -> str:
    import datetime as dt

    from appliance.programme import rules as programme
    from sms import rules
    from sms.gammu import Received

    with tempfile.TemporaryDirectory() as tmp:
        app, ctx = make_box(Path(tmp))
        try:
            start = programme.utcnow() + dt.timedelta(days=2)
            programme.create_session(
                {"title": "Couture", "kind": "training", "duration_min": 90, "capacity": 500}, start
            )
            texts = [
                "Q eau: le forage de Nioro est en panne depuis un mois, que faire ?",
                "Ɲininkali: sira bɛna dilan wa? Sanji bɛ a tiɲɛ san o san.",
                "PROG",
                "1",
                "zorglub",
                "Kayes santé: le dispensaire ferme tôt.",
            ]
            for i in range(n):  # stored first: the rate of handling alone is measured
                rules.store(
                    Received(f"k{i}", f"+2237{i % 97:07d}", texts[i % len(texts)], -1, False, 1)
                )
            t0 = time.perf_counter()
            handled = rules.handle_pending(limit=n)
            seconds = time.perf_counter() - t0
        finally:
            ctx.pop()
    return f"rules: {handled} messages handled in {seconds:.2f} s = {handled / seconds:.0f}/s"


def bench_e2e(n: int) -> str:
    import shutil

    if not shutil.which("gammu-smsd"):
        return "end to end: skipped (apt-get install gammu-smsd)"
    from sms import gammu
    from sms.models import Inbound, Outgoing
    from tests.sms.conftest import Phone

    with tempfile.TemporaryDirectory() as tmp:
        app, ctx = make_box(Path(tmp))
        site = app.config["SITE"]
        spool = gammu.write_config(site, app.config["SITE_PATH"], poll_seconds=1)
        daemon = gammu.Daemon(spool, env=dict(os.environ)).start()
        try:
            phone = Phone(Path(site.sms.modem))
            t0 = time.perf_counter()
            for i in range(n):
                phone.inject(
                    f"+2237600{i:04d}", f"Question {i}: quand la route sera-t-elle réparée ?"
                )
            deadline = time.monotonic() + 30 + 10 * n
            while time.monotonic() < deadline:
                if (
                    Inbound.select().where(Inbound.status == "handled").count() >= n
                    and spool.waiting() == 0
                ):
                    break
                time.sleep(0.1)
            seconds = time.perf_counter() - t0
            done = Inbound.select().where(Inbound.status == "handled").count()
            replies = Outgoing.select().count()
        finally:
            daemon.close()
            ctx.pop()
    return (
        f"end to end (gammu-smsd, dummy phone, RunOnReceive per message): {done} "
        f"messages received, posted and answered ({replies} replies) in {seconds:.1f} s"
        f" = {done / seconds:.2f}/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--e2e", type=int, default=20)
    args = parser.parse_args()
    print("\n".join(parts_table()))
    print(bench_rules(args.messages))
    if args.e2e:
        print(bench_e2e(args.e2e))


if __name__ == "__main__":
    main()
