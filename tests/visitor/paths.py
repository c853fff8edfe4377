"""The visitor paths, walked by a phone: each step lands on one page and names it.

Shared by the tap-target, language and page-weight tests, so each checks the same
pages a visitor goes through: welcome, home, library, lesson, search, board, ask by
voice, ask by text, confirmation, programme, booking, ticket.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Everything a finger can press, measured as the browser lays it out. A radio button
# or checkbox inside a label is pressed through its label, so the label is measured.
TAP_TARGETS_JS = """
(scope) => {
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, label';
  const out = [];
  const root = scope ? document.querySelector(scope) : document;
  for (const el of root.querySelectorAll(sel)) {
    if (el.closest('[hidden]')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    if (el.tagName === 'INPUT' && (el.type === 'radio' || el.type === 'checkbox')
        && el.closest('label')) continue;
    if (el.tagName === 'INPUT' && el.type === 'file' && el.labels && el.labels.length) continue;
    if (el.tagName === 'LABEL' && !el.querySelector('input,select,textarea')
        && !(el.htmlFor && document.getElementById(el.htmlFor)
             && ['radio','checkbox','file'].includes(document.getElementById(el.htmlFor).type)))
      continue;  // a caption above a field, not something to press
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const label = el.innerText || el.value || el.getAttribute('aria-label') || '';
    out.push({tag: el.tagName.toLowerCase(), id: el.id, cls: String(el.className || ''),
              text: label.trim().slice(0, 40),
              w: Math.round(r.width * 10) / 10, h: Math.round(r.height * 10) / 10});
  }
  return out;
}
"""


def small_targets(page, scope: str | None = None) -> list[dict]:
    """Controls under 48x48 px (within ``scope``, a CSS selector, if given)."""
    return [t for t in page.evaluate(TAP_TARGETS_JS, scope) if t["w"] < 48 or t["h"] < 48]


def walk(page, base: str, lang: str | None = None) -> Iterator[str]:
    """Go through every visitor page; yield each page's name once it is loaded.

    ``lang`` chooses the language on the welcome page (by its own name's link)."""
    page.goto(base + "/welcome")
    if lang:
        page.click(f".langs a[lang={lang}]")
        page.wait_for_load_state()
    yield "welcome"
    page.click("button.enter")
    page.wait_for_url(base + "/")
    yield "home"
    page.goto(base + "/languages?next=/")
    yield "languages"
    page.goto(base + "/about")
    yield "about"
    page.goto(base + "/library/")
    yield "library"
    page.click(".books a >> nth=0")
    page.wait_for_load_state()
    yield "book"
    page.click("main li a[href^='/library/'] >> nth=0")
    page.wait_for_load_state()
    yield "lesson"
    page.goto(base + "/library/_/search?q=eau")
    yield "search"
    page.goto(base + "/board/")
    yield "board"
    page.goto(base + "/board/new?mode=voice")
    yield "ask-voice"
    page.goto(base + "/board/new")
    yield "ask-text"
    page.check("input[name=theme] >> nth=0", force=True)
    page.check("#targets input[name=target] >> nth=1")
    page.fill("#body", "Quand la pompe du quartier sera-t-elle réparée ?")
    page.click("#send")
    page.wait_for_url(re.compile(r".*/board/sent/\w+$"))
    yield "confirmation"
    page.goto(base + "/board/find")
    yield "board-find"
    page.goto(base + "/programme/")
    yield "programme"
    page.click("a.sess:not(.off) >> nth=0")
    page.wait_for_load_state()
    yield "session"
    if page.locator("#name").count():
        page.fill("#name", "Awa")
    page.click("form.book button[type=submit]")
    page.wait_for_url(re.compile(r".*/programme/\d+/b/\d+.*"))
    yield "ticket"
    page.goto(base + "/programme/find")
    yield "programme-find"
