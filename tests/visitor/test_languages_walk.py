"""Each visitor path in Bambara, Soninke and Pulaar, as a phone on the hotspot sees it:
no string of the French catalogue is left on screen (text, placeholders, labels)."""

import re

import pytest
from babel.messages.pofile import read_po

from appliance.i18n import TRANSLATIONS
from tests.visitor.paths import walk

pytestmark = pytest.mark.browser

# The visible text of a page, one entry per text node, plus what a screen shows or reads
# of attributes (placeholders, aria-labels, button values).
SHOWN_JS = """
(scope) => {
  const root = scope ? document.querySelector(scope) : document.body;
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const n = walker.currentNode, el = n.parentElement;
    if (!el || el.closest('script,style,[hidden],template')) continue;
    // Languages' own names on the chooser are not strings of a catalogue.
    if (el.closest('.langs, header .lang, #espace-bar a:last-child')) continue;
    const t = n.textContent.trim();
    if (t && el.getClientRects().length) out.push(t);
  }
  const attributed = '[placeholder],[aria-label],[title],input[type=submit]';
  for (const el of root.querySelectorAll(attributed)) {
    for (const a of ['placeholder', 'aria-label', 'title', 'value'])
      if (el.getAttribute(a) && (a !== 'value' || el.type === 'submit'))
        out.push(el.getAttribute(a));
  }
  out.push(document.title);
  return out;
}
"""


def _catalogue(code):
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def french_patterns(code: str) -> list[tuple[str, re.Pattern]]:
    """The French catalogue's strings as patterns (placeholders match anything), minus
    those the language writes the same way (PIN, MB, MOOC...)."""
    fr, other = _catalogue("fr"), _catalogue(code)
    out = []
    for m in fr:
        if not m.id or not m.string:
            continue
        forms = m.string if isinstance(m.string, (list, tuple)) else [m.string]
        theirs = other.get(m.id)
        their_forms = set(theirs.string if isinstance(theirs.string, (list, tuple))
                          else [theirs.string]) if theirs else set()
        for form in set(forms):
            # One or two letters (F/H for women/men on the sheet) are not words on screen.
            if len(form) <= 2 or form in their_forms:
                continue
            pattern = re.escape(form)
            pattern = re.sub(r"%\\\(\w+\\\)(?:\\\.\d)?[sdf]|%[sd]", ".+", pattern)
            out.append((form, re.compile(pattern)))
    return out


def leftovers(texts: list[str], patterns) -> list[str]:
    """French strings shown: a text equal to one, or containing one of three words or more
    (a session's French title may contain a two-word catalogue string as data)."""
    found = []
    for text in texts:
        for form, pattern in patterns:
            if pattern.fullmatch(text) or (len(form.split()) >= 3 and pattern.search(text)):
                found.append(f"{form!r} in {text!r}")
    return found


@pytest.mark.parametrize("code", ["bm", "snk", "ff"])
def test_every_visitor_path_in_the_language(code, hotspot, new_phone, artifacts):
    patterns = french_patterns(code)
    page = new_phone()
    seen, french = [], {}
    for name in walk(page, hotspot.url, lang=code):
        seen.append(name)
        where = "#espace-bar" if name == "lesson" else "html"
        assert page.locator(where).get_attribute("lang") == code, name
        # A lesson's text is the book's (French here); our part of it is the bar.
        texts = page.evaluate(SHOWN_JS, "#espace-bar" if name == "lesson" else None)
        found = leftovers(texts, patterns)
        if found:
            french[name] = found
        page.screenshot(path=str(artifacts / f"visitor-{code}-{name}-360x640.png"))
    assert len(seen) == 17
    assert not french, "\n".join(f"{k}: {v}" for k, v in french.items())
