"""Cost and words, without a modem: GSM-7 against UCS-2, cutting at word boundaries,
transliteration, keywords in every language, the number mask, the settings."""

from __future__ import annotations

import pytest

from appliance import settings
from sms import gsm, parse
from sms.gammu import from_environ, from_files, mask_numbers

LANGS = ["fr", "bm", "snk"]


def test_bambara_letters_force_ucs2_and_halve_a_part():
    assert gsm.cost("Bonjour, le forage est réparé.") == gsm.Cost("gsm7", 30, 1)
    assert gsm.cost("ɲɛ").encoding == "ucs2"
    assert gsm.cost("a" * 160).parts == 1 and gsm.cost("a" * 161).parts == 2
    assert gsm.cost("ɛ" * 70).parts == 1 and gsm.cost("ɛ" * 71).parts == 2
    assert gsm.cost("{" * 80).units == 160  # extension characters take two septets
    assert gsm.cost("😀").units == 2  # outside the BMP: two UTF-16 units


def test_long_texts_are_cut_at_word_boundaries_with_k_of_n():
    text = " ".join(f"mot{i}" for i in range(120))
    pieces = gsm.split(text)
    assert len(pieces) > 1
    for i, piece in enumerate(pieces, 1):
        assert piece.startswith(f"{i}/{len(pieces)} ")
        assert gsm.cost(piece).parts == 1
    assert " ".join(p.split(" ", 1)[1] for p in pieces) == text  # no word cut or lost
    bm = "Dugutigi ko ji bɛna na sisan kalo nataa la, ka sɔrɔ cɛmancɛ kɔnɔ ɲɛ. " * 4
    assert all(gsm.cost(p).parts == 1 for p in gsm.split(bm))
    capped = gsm.split("x " * 2000, max_pieces=3, more="(suite)")
    assert len(capped) == 3 and capped[-1].endswith("(suite)")


def test_transliteration_fits_gsm7():
    text = "Ɲininkali: ji tɛ yen, ŋɔni bɛ sɔrɔ. Ça coûte où ? « oui »"
    plain = gsm.transliterate(text)
    assert gsm.septets(plain) is not None
    assert plain.startswith("Nyininkali: ji te yen, ngoni be soro.")
    assert gsm.transliterate("N'Ko ߒ") == "N'Ko ߒ"  # what has no Latin form stays


@pytest.mark.parametrize(
    ("text", "action", "lang"),
    [
        ("", "empty", ""),
        ("   ", "empty", ""),
        ("stop", "stop", ""),
        ("STOP", "stop", ""),
        ("Q eau: le forage est en panne", "question", "fr"),
        ("ɲininkali: ji tɛ yen", "question", "bm"),
        ("NYININKALI ji", "question", "bm"),
        ("tirinde: xaalisi", "question", "snk"),
        ("prog", "programme", "fr"),
        ("Porogaramu", "programme", "bm"),
        ("porgaram", "programme", "snk"),
        ("annuler 123456", "cancel", "fr"),
        ("dabila", "cancel", "bm"),
        ("n fana AB3K7Q", "support", "bm"),
        ("aide", "help", "fr"),
        ("Dɛmɛ", "help", "bm"),
        ("jɔ", "stop", "bm"),
        ("zorglub", "unknown", ""),
        ("ɲɛɲɛ", "unknown", "bm"),
        ("Stop the noise at the market every night", "question", ""),
        ("Ni sɔgɔma, dugutigi bɛ min?", "question", "bm"),
    ],
)
def test_keywords_in_every_language(text, action, lang):
    command = parse.parse(text, LANGS)
    assert (command.action, command.lang) == (action, lang)


def test_booking_replies_and_targets():
    assert parse.parse("2", LANGS).number == 2
    assert parse.parse("2fj", LANGS).group == "FJ"
    assert parse.parse("R 3", LANGS).number == 3
    t = parse.target("eau Nioro @Traoré il manque", ["Nioro", "Kayes"], ["water", "health"])
    assert (t.commune, t.theme, t.official) == ("Nioro", "water", "Traoré")
    assert t.body == "eau Nioro @Traoré il manque"  # nothing the sender wrote is dropped


def test_received_keys_agree_between_runonreceive_and_the_sweep(tmp_path):
    name = "IN20261130_071701_00_+22376000001_00.txt"
    (tmp_path / name).write_bytes("\ufeffNi sɔgɔma".encode("utf-16-be") + b"\0" * 8)
    env = {
        "SMS_MESSAGES": "1",
        "SMS_1_NUMBER": "+22376000001",
        "SMS_1_TEXT": "Ni sɔgɔma",
        "SMS_1_CLASS": "-1",
        "DECODED_PARTS": "0",
    }
    a, b = from_environ(env, [name]), from_files([tmp_path / name])
    assert a.key == b.key and a.text == b.text == "Ni sɔgɔma" and a.number == b.number
    binary = from_environ({"SMS_MESSAGES": "1", "SMS_1_NUMBER": "+1234"}, ["x_00.bin"])
    assert binary.is_binary and binary.text == ""


def test_numbers_are_masked_in_logs():
    line = "Transmitted OUTB20261130_071900_00_+22376000009_espace1.txt to +22376000009"
    assert "76000009" not in mask_numbers(line)
    assert "00 223 76" not in mask_numbers("to 0022376000009")


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("daily_budget_parts", -1, "out of range"),
        ("connection", "serial", "is not one of"),
        ("modem", "ttyUSB0", "absolute device path"),
        ("languages", ["ff"], "is not one of"),
        ("retention_days", 0, "out of range"),
        ("transliterate", "yes", "true or false"),
    ],
)
def test_sms_settings_are_checked(tmp_path, key, value, error):
    from tests.support import make_site

    doc = make_site(tmp_path)
    doc["sms"] = {key: value}
    with pytest.raises(settings.ConfigError, match=error):
        settings.validate(doc)
