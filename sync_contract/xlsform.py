"""XLSForm to XForm, as both sides do it: central when a region publishes a form, the box
when a facilitator imports one from a USB stick. Shared here so that both convert and
validate the same way (``pyxform``, then ODK Validate, the engine ODK Collect runs, which
pyxform ships and which needs Java).

A form that does not convert or validate is refused with :class:`FormRefused`: the
validator's own message, and the sheet and line of the spreadsheet it is about when the
message names a row (pyxform: ``[row : 6]``) or a question (ODK Validate: ``${age}``).
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET  # noqa: S405  (our own pyxform output, no DOCTYPE)
from dataclasses import dataclass, field
from pathlib import Path

MEDIA_REF = re.compile(r"jr://(?:images|audio|video|file|file-csv)/([^\s\"'<>)]+)")
ROW = re.compile(r"\[row\s*:\s*(\d+)\]")
QUESTION = re.compile(r"\$\{([A-Za-z_][\w.-]*)\}")
SHEET = re.compile(r"\b(survey|choices|settings|external_choices|entities)\b")
XFORMS = "{http://www.w3.org/2002/xforms}"


class FormRefused(ValueError):
    """The XLSForm does not convert or validate; ``sheet`` and ``line`` are where (line
    0: the message names no row)."""

    def __init__(self, message: str, sheet: str = "", line: int = 0) -> None:
        self.message, self.sheet, self.line = message.strip(), sheet, line
        where = (
            f" (sheet {sheet}, line {line})"
            if sheet and line
            else (f" (sheet {sheet})" if sheet else "")
        )
        super().__init__(f"{self.message}{where}")


@dataclass(frozen=True)
class Form:
    form_id: str
    version: str
    title: str
    xml: str
    media: tuple[str, ...] = field(default=())  # file names the form refers to

    @property
    def md5(self) -> str:
        return hashlib.md5(self.xml.encode()).hexdigest()  # noqa: S324  (OpenRosa's hash)


def describe(xml: str) -> Form:
    """The id, version, title and media names of an XForm (pyxform's output)."""
    root = ET.fromstring(xml)  # noqa: S314
    title = root.findtext(
        "{http://www.w3.org/1999/xhtml}head/{http://www.w3.org/1999/xhtml}title", default=""
    )
    instance = root.find(f".//{XFORMS}model/{XFORMS}instance")
    data = instance[0] if instance is not None and len(instance) else None
    if data is None or not data.get("id"):
        raise FormRefused("the form has no primary instance with an id", "settings")
    media = tuple(sorted(set(MEDIA_REF.findall(xml))))
    return Form(data.get("id"), data.get("version", ""), title.strip(), xml, media)


def convert(path: str | Path, validate: bool = True) -> Form:
    """Convert the XLSForm at ``path`` and check it with ODK Validate."""
    from pyxform.errors import PyXFormError
    from pyxform.validators.odk_validate import ODKValidateError
    from pyxform.xls2xform import convert as pyxform_convert

    path = Path(path)
    try:
        result = pyxform_convert(xlsform=str(path), validate=validate, pretty_print=False)
    except ODKValidateError as e:
        raise _located(_validator_message(str(e)), path) from None
    except PyXFormError as e:
        raise _located(str(e), path) from None
    except (OSError, ValueError, KeyError) as e:  # not a spreadsheet, a broken zip...
        raise FormRefused(f"not a readable XLSForm: {e}") from None
    return describe(result.xform)


def _validator_message(text: str) -> str:
    """ODK Validate's lines that say what is wrong, without its temporary file names."""
    keep = [
        line.strip(" >:")
        for line in text.splitlines()
        if line.strip()
        and "failed validation" not in line
        and "${tmp" not in line
        and not line.startswith(("ODK Validate Errors", "Result:"))
    ]
    return "; ".join(line for line in keep if line) or text


def _located(message: str, path: Path) -> FormRefused:
    row = ROW.search(message)
    if row:
        sheet = SHEET.search(message.replace("[row", ""))
        return FormRefused(message, sheet.group(1) if sheet else "survey", int(row.group(1)))
    names = QUESTION.findall(message)
    if names:
        line = _row_of(path, names[0])
        if line:
            return FormRefused(message, "survey", line)
    sheet = SHEET.search(message)
    return FormRefused(message, sheet.group(1) if sheet else "")


def _row_of(path: Path, name: str) -> int:
    """The line of the survey sheet whose ``name`` column is ``name`` (0: not found)."""
    try:
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
    except Exception:  # a .xls or .csv XLSForm: the message alone is still right
        return 0
    try:
        sheet = book["survey"] if "survey" in book.sheetnames else None
        if sheet is None:
            return 0
        column = None
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if column is None:
                heads = [str(c).strip().lower() if c is not None else "" for c in row]
                column = heads.index("name") if "name" in heads else -1
                continue
            if column >= 0 and column < len(row) and str(row[column] or "").strip() == name:
                return number
        return 0
    finally:
        book.close()
