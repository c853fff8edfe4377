"""First-load bytes of every visitor page, as a phone with an empty cache fetches them
from the hotspot address (bytes on the wire, gzip as phones ask for it): the landing page
stays under 30 KB; the figures are printed and kept in test-artifacts/."""

import pytest

from tests.visitor.paths import walk

pytestmark = pytest.mark.browser

LANDING_LIMIT = 30 * 1024


def first_load(new_phone, url: str, cookies: list) -> tuple[int, int]:
    """(bytes on the wire, requests) for ``url`` in a fresh context (empty cache)."""
    page = new_phone()
    page.context.add_cookies(cookies)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes = {}
    cdp.on("Network.loadingFinished",
           lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return sum(sizes.values()), len(sizes)


def test_first_load_bytes_of_every_visitor_page(hotspot, new_phone, artifacts):
    walker = new_phone()
    urls = []
    for name in walk(walker, hotspot.url, lang="bm"):
        urls.append((name, walker.url))
    cookies = [c for c in walker.context.cookies() if c["name"] == "lang"]
    rows = []
    landing, _ = first_load(new_phone, hotspot.url + "/", [])  # first visit: no cookie
    rows.append(("landing (first visit)", landing, 0))
    for name, url in urls:
        if name in ("confirmation", "ticket", "welcome"):
            continue  # reached by a POST; their GET is measured below by URL
        size, n = first_load(new_phone, url, cookies)
        rows.append((name, size, n))
    for name, url in urls:
        if name in ("confirmation", "ticket", "welcome"):
            size, n = first_load(new_phone, url, cookies)
            rows.append((name, size, n))
    report = "\n".join(f"{name:24} {size / 1024:7.1f} KB  {n} requests" for name, size, n
                       in rows)
    (artifacts / "visitor-first-load-bytes.txt").write_text(report + "\n")
    print("\n" + report)
    assert landing <= LANDING_LIMIT, report
    assert all(size > 0 for _, size, _ in rows)
