"""What a form's submissions mean, read from its XForm, and their XLSX export.

An XForm (as pyxform writes it) carries its labels per language (``itext``), its
choices (inline ``item``s or an ``itemset`` over a secondary instance) and each
question's type (``bind``). :func:`describe` reads them once; :func:`xlsx` writes a
form's submissions with the labels in French (the ``label::French (fr)`` or
``label::fr`` column of the XLSForm; the form's default language when it has none),
choices by their labels rather than their names, numbers as numbers and attachments as
links to central. The workbook is made with openpyxl (maintained, pure Python, already
pyxform's dependency); every text cell is written as text, so a value such as
``=HYPERLINK(...)`` from a phone is never a formula.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET  # noqa: S405  (forms published at central; see values())
from collections.abc import Iterable
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

XF = "{http://www.w3.org/2002/xforms}"
H = "{http://www.w3.org/1999/xhtml}"
MAX_CELL = 32_767  # characters a spreadsheet cell holds
INTEGER = re.compile(r"-?\d{1,15}")
DECIMAL = re.compile(r"-?\d{1,15}(\.\d{1,15})?")
ITEMSET = re.compile(r"instance\('([^']+)'\)")


@dataclass
class Question:
    path: str  # under the root, as submissions name it: /data/group/name
    label: str
    kind: str = "text"  # text, int, decimal, select1, select, binary
    choices: dict[str, str] = field(default_factory=dict)  # name -> label


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def is_french(lang: str) -> bool:
    """``French (fr)``, ``fr``, ``Français``... as XLSForm authors name French."""
    low = lang.strip().lower()
    return (
        low in ("fr", "french", "français", "francais")
        or low.endswith("(fr)")
        or low.startswith(("french ", "français ", "francais "))
    )


def _texts(translation: ET.Element) -> dict[str, str]:
    out = {}
    for text in translation.iter(f"{XF}text"):
        # The plain value: a text may also carry image/audio forms of the label.
        plain = [v for v in text.iter(f"{XF}value") if not v.get("form")]
        out[text.get("id")] = "".join(plain[0].itertext()).strip() if plain else ""
    return out


def _labels(model: ET.Element | None) -> dict[str, str]:
    """The itext of the French translation, else of the form's default language."""
    if model is None:
        return {}
    translations = list(model.iter(f"{XF}translation"))
    chosen = (
        next((t for t in translations if is_french(t.get("lang", ""))), None)
        or next((t for t in translations if t.get("default")), None)
        or next((t for t in translations if t.get("lang") == "default"), None)
        or (translations[0] if translations else None)
    )
    if chosen is None:
        return {}
    texts = _texts(chosen)
    if chosen is not translations[0]:
        # A text missing from the chosen language falls back to the first one.
        texts = {**_texts(translations[0]), **{k: v for k, v in texts.items() if v}}
    return texts


def _label(el: ET.Element | None, itext: dict[str, str], item: ET.Element | None = None) -> str:
    """A label element's text: ``jr:itext('key')``, ``jr:itext(itextId)`` (the key in
    an itemset's item), ``ref="label"`` (an itemset item's own label) or inline."""
    if el is None:
        return ""
    ref = (el.get("ref") or "").strip()
    if ref.startswith("jr:itext(") and ref.endswith(")"):
        arg = ref[len("jr:itext(") : -1].strip()
        if arg[:1] in ("'", '"'):
            return itext.get(arg.strip("'\""), "")
        return itext.get(_child_text(item, arg), "") if item is not None else ""
    if ref and item is not None:
        return _child_text(item, ref)
    return "".join(el.itertext()).strip()


def _child_text(el: ET.Element, name: str) -> str:
    for child in el:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _choices(
    control: ET.Element, model: ET.Element | None, itext: dict[str, str]
) -> dict[str, str]:
    out = {}
    for item in control.findall(f"{XF}item"):
        name = (item.findtext(f"{XF}value") or "").strip()
        out[name] = _label(item.find(f"{XF}label"), itext) or name
    itemset = control.find(f"{XF}itemset")
    if itemset is not None and model is not None:
        m = ITEMSET.search(itemset.get("nodeset", ""))
        value = itemset.find(f"{XF}value")
        instance = next(
            (i for i in model.findall(f"{XF}instance") if m and i.get("id") == m.group(1)), None
        )
        if instance is not None and value is not None and len(instance):
            for item in instance[0]:
                name = _child_text(item, value.get("ref", "name"))
                out[name] = _label(itemset.find(f"{XF}label"), itext, item) or name
    return out


def describe(xml: str) -> list[Question]:
    """Each question of an XForm in order (groups walked, ``meta`` left out) with its
    label in French or the default language, its type and its choices."""
    root = ET.fromstring(xml)  # noqa: S314
    model = root.find(f"{H}head/{XF}model")
    itext = _labels(model)
    types = {
        b.get("nodeset"): (b.get("type") or "").split(":")[-1]
        for b in (model.iter(f"{XF}bind") if model is not None else [])
    }
    controls: dict[str, Question] = {}
    body = root.find(f"{H}body")
    for el in body.iter() if body is not None else []:
        ref = el.get("ref") or el.get("nodeset")
        tag = _local(el.tag)
        if not ref or tag in ("group", "repeat", "itemset", "label", "hint", "value"):
            continue
        label = _label(el.find(f"{XF}label"), itext) or ref.rsplit("/", 1)[-1]
        kind = {"select1": "select1", "select": "select", "upload": "binary"}.get(tag, "")
        controls[ref] = Question(
            ref,
            label,
            kind or _kind(types.get(ref, "")),
            _choices(el, model, itext) if kind.startswith("select") else {},
        )
    instance = model.find(f"{XF}instance") if model is not None else None
    data = instance[0] if instance is not None and len(instance) else None
    out: list[Question] = []

    def walk(el: ET.Element, path: str) -> None:
        for child in el:
            name = _local(child.tag)
            sub = f"{path}/{name}"
            if name == "meta":
                continue
            if len(child):
                walk(child, sub)
            else:
                out.append(controls.get(sub) or Question(sub, name, _kind(types.get(sub, ""))))

    if data is not None:
        walk(data, f"/{_local(data.tag)}")
    return out


def _kind(bind_type: str) -> str:
    return {"int": "int", "integer": "int", "decimal": "decimal", "binary": "binary"}.get(
        bind_type, "text"
    )


def values(xml: str) -> dict[str, str]:
    """Leaf values of a submission by path. Boxes refused DOCTYPEs before sending;
    one that came anyway (or XML that does not parse) gives no values."""
    if "<!DOCTYPE" in xml[:4096].upper() or "<!ENTITY" in xml.upper():
        return {}
    try:
        root = ET.fromstring(xml)  # noqa: S314
    except ET.ParseError:
        return {}
    out = {}

    def walk(el: ET.Element, path: str) -> None:
        for child in el:
            sub = f"{path}/{_local(child.tag)}"
            if len(child):
                walk(child, sub)
            else:
                out[sub] = (child.text or "").strip()

    walk(root, f"/{_local(root.tag)}")
    return out


def cell_value(q: Question, raw: str) -> str | int | float:
    """What the spreadsheet shows for ``raw``: a number for a number question, the
    choices' labels for a select, else the text."""
    if q.kind == "int" and INTEGER.fullmatch(raw):
        return int(raw)
    if q.kind == "decimal" and DECIMAL.fullmatch(raw):
        return float(raw)
    if q.kind == "select1":
        return q.choices.get(raw, raw)
    if q.kind == "select":
        return ", ".join(q.choices.get(name, name) for name in raw.split())
    return raw


def _text(value: str) -> str:
    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value if len(value) <= MAX_CELL else value[: MAX_CELL - 1] + "…"


def _put(ws, row: int, col: int, value, link: str = ""):
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        cell.value = _text(value)
        cell.data_type = "s"  # text, never a formula (openpyxl makes "=..." one)
    else:
        cell.value = value
    if link:
        cell.hyperlink = link
        cell.style = "Hyperlink"
    return cell


@dataclass
class Row:
    site: str
    instance_id: str
    received_at: str
    enumerator: str
    xml: str
    links: dict[str, str]  # attachment name -> URL on central


def xlsx(title: str, header: list[str], questions: list[Question], rows: Iterable[Row]) -> bytes:
    """The workbook's bytes: ``header`` (site, instanceID, received, enumerator in the
    reader's language) then one column per question, one row per submission."""
    book = Workbook()
    ws = book.active
    ws.title = re.sub(r"[\[\]:*?/\\]", "_", title)[:31] or "submissions"
    for col, name in enumerate(header + [q.label for q in questions], start=1):
        _put(ws, 1, col, name).font = Font(bold=True)
    ws.freeze_panes = "A2"
    for r, row in enumerate(rows, start=2):
        for col, value in enumerate(
            [row.site, row.instance_id, row.received_at, row.enumerator], start=1
        ):
            _put(ws, r, col, value)
        got = values(row.xml)
        for col, q in enumerate(questions, start=len(header) + 1):
            raw = got.get(q.path, "")
            link = row.links.get(raw, "") if raw and q.kind in ("binary", "text") else ""
            _put(ws, r, col, raw if link else cell_value(q, raw), link)
    for col in ws.columns:
        width = max((len(str(c.value or "")) for c in col[:200]), default=8)
        ws.column_dimensions[col[0].column_letter].width = min(60, max(10, width + 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
