"""Benchmark: our library server against Debian's kiwix-serve on the same ZIM.

Builds (once, cached in /var/tmp/espace-bench) a ZIM of >= 20,000 articles from
Debian's python3.11-doc HTML: every page whole plus every <section> of it as its
own article, in 5 variations (a different path prefix, title and first line), with
a full-text index. Then, for each server pinned with taskset to CPU 0, wrk pinned
to CPU 1 drives 50 concurrent connections fetching random articles, with and
without ``Accept-Encoding: gzip``, then searches (10 connections). Prints
requests/s, p50/p95 latency, the ratios, and our web process's RSS.

Our server serves the book as a box does after an import: with its precompressed
store (content_cache/precompressed.py, built here first and timed);
``--no-precompress`` measures the ZIM-only path instead.

Targets (issue 8): articles >= 2.0x kiwix-serve with gzip, >= 1.0x without;
search p95 no worse; RSS < 80 MB.

Run: .venv/bin/python bench/content.py [--seconds 8] [--rounds 3] [--threads 4]
Needs: apt-get install python3.11-doc kiwix-tools wrk
"""

from __future__ import annotations

import argparse
import html
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("/var/tmp/espace-bench")
DOCS = Path("/usr/share/doc/python3.11-doc/html")
VARIATIONS = 5
ZIM_NAME = "pydoc_en_all"
WORDS = ["socket", "thread", "dictionary", "iterator", "decorator", "exception", "unicode",
         "subprocess", "asyncio", "generator", "logging", "datetime", "regular expression",
         "encoding", "inheritance", "buffer", "signal", "pickle", "tuple", "lambda"]

WRK_LUA = r"""
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
math.randomseed(tonumber(os.getenv("BENCH_SEED") or "42"))
local prefix = os.getenv("BENCH_PREFIX")
if os.getenv("BENCH_GZIP") == "1" then wrk.headers["Accept-Encoding"] = "gzip" end
request = function()
  return wrk.format("GET", prefix .. paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.3f %.3f %d %d\n", summary.requests,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    e.status + e.connect + e.read + e.timeout + e.write, summary.bytes))
end
"""


# --- the ZIM -----------------------------------------------------------------------------


def _articles() -> list[tuple[str, str, str]]:
    """(path, title, html body) of every page and every section of the docs."""
    root = DOCS.resolve()
    out = []
    for p in sorted(root.rglob("*.html")):
        rel = p.relative_to(root).as_posix()
        s = p.read_text(errors="replace")
        m = re.search(r'<div class="body" role="main">(.*?)<div class="sphinxsidebar"', s, re.S)
        body = m.group(1) if m else s
        t = re.search(r"<title>(.*?)</title>", s, re.S)
        title = html.unescape(t.group(1).strip()) if t else rel
        out.append((rel[:-5], title, body))
        for i, chunk in enumerate(re.split(r'(?=<section id=")', body)):
            if len(chunk) <= 400:
                continue
            h = re.search(r"<h\d>(.*?)<", chunk, re.S)
            sub = html.unescape(re.sub(r"<[^>]+>", "", h.group(1)).strip()) if h else str(i)
            out.append((f"{rel[:-5]}/s{i}", f"{title} – {sub}", chunk))
    return out


def build_zim() -> tuple[Path, list[str]]:
    """The cached bench ZIM and its article paths."""
    CACHE.mkdir(parents=True, exist_ok=True)
    zim = CACHE / f"{ZIM_NAME}.zim"
    paths_file = CACHE / f"{ZIM_NAME}.paths"
    if zim.exists() and paths_file.exists():
        return zim, paths_file.read_text().split("\n")
    if not DOCS.exists():
        sys.exit("needs Debian's python3.11-doc: apt-get install python3.11-doc")
    from libzim.writer import Creator, Hint, Item, StringProvider

    class Page(Item):
        def __init__(self, path, title, body):
            super().__init__()
            self.p, self.t, self.b = path, title, body

        def get_path(self):
            return self.p

        def get_title(self):
            return self.t

        def get_mimetype(self):
            return "text/html"

        def get_contentprovider(self):
            return StringProvider(self.b)

        def get_hints(self):
            return {Hint.FRONT_ARTICLE: True}

    articles = _articles()
    print(f"building {zim} from {len(articles)} pages and sections x {VARIATIONS} ...",
          flush=True)
    paths = []
    part = zim.with_suffix(".building")
    started = time.monotonic()
    with Creator(str(part)).config_verbose(False).config_indexing(True, "eng") \
            .config_nbworkers(2) as creator:
        creator.set_mainpath("v0/index")
        for key, value in {"Name": ZIM_NAME, "Title": "Python 3.11 documentation (bench)",
                           "Language": "eng", "Description": "Python docs, for benchmarks",
                           "Creator": "Python", "Publisher": "Espace bench",
                           "Date": "2026-11-28", "Tags": "bench"}.items():
            creator.add_metadata(key, value)
        for v in range(VARIATIONS):
            for path, title, body in articles:
                p = f"v{v}/{path}"
                page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
                        f"<title>{html.escape(title)} ({v})</title></head><body>"
                        f"<p>Edition {v} of {html.escape(title)}</p>{body}</body></html>")
                creator.add_item(Page(p, f"{title} ({v})", page))
                paths.append(p)
    os.replace(part, zim)
    paths_file.write_text("\n".join(paths))
    print(f"built {len(paths)} articles, {zim.stat().st_size / 2**20:.0f} MB in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    return zim, paths


# --- servers ------------------------------------------------------------------------------


def _wait(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit(f"server not ready: {url}")


def start_ours(zim: Path, port: int, threads: int, tmp: Path,
               precompress: bool = True) -> subprocess.Popen:
    data = tmp / "data"
    (data / "content").mkdir(parents=True)
    os.symlink(zim, data / "content" / zim.name)
    if precompress:
        # What the box does after an import: the book's text, deflated once.
        from content_cache.precompressed import build

        print(f"precompressed store: {build(zim, data / 'content', zim.stem)}", flush=True)
    else:
        print("no precompressed store: every page read from the ZIM", flush=True)
    site = tmp / "site.toml"
    site.write_text(f'[site]\nid = "bench"\nname = "Bench"\ncommunes = ["Nioro"]\n'
                    f'languages = ["en", "fr"]\ndefault_language = "en"\n'
                    f'[storage]\ndata_dir = "{data}"\n')
    # The box's environment has no psycopg2 (central's driver, installed here for the
    # tests); peewee imports it when present, +10 MB: hide it, as on the box.
    code = ("import sys; sys.modules['psycopg2'] = None;"
            "import logging; from appliance.app import create_app; from waitress import serve;"
            f"app = create_app({{'SITE_FILE': {str(site)!r}}});"
            "logging.getLogger('waitress.queue').setLevel(logging.ERROR);"
            f"serve(app, host='127.0.0.1', port={port}, threads={threads}, ident='espace',"
            " channel_timeout=120, connection_limit=200, backlog=1024)")
    proc = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", code], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(f"http://127.0.0.1:{port}/library/", proc)
    return proc


def start_kiwix(zim: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(["taskset", "-c", "0", "kiwix-serve", "-i", "127.0.0.1", "-p",
                             str(port), str(zim)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(f"http://127.0.0.1:{port}/", proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    cur = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    return cur, peak


# --- load -----------------------------------------------------------------------------------


def wrk(base: str, prefix: str, paths_file: Path, gzip: bool, seconds: int,
        connections: int) -> dict:
    lua = paths_file.with_suffix(".lua")
    lua.write_text(WRK_LUA)
    env = dict(os.environ, BENCH_PATHS=str(paths_file), BENCH_PREFIX=prefix,
               BENCH_GZIP="1" if gzip else "0")
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}",
                          f"-d{seconds}s", "--timeout", "10s", "-s", str(lua), base],
                         env=env, capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+) (\d+)", out)
    n, us, p50, p95, errors, nbytes = m.groups()
    return {"rps": int(n) / (int(us) / 1e6), "p50": float(p50), "p95": float(p95),
            "errors": int(errors), "kb": int(nbytes) / max(int(n), 1) / 1024}


def _probe(url: str, gzip: bool = False) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310
            return r.status, r.headers.get("Content-Encoding", "")
    except urllib.error.HTTPError as e:
        return e.code, ""


def kiwix_prefix(port: int, name: str, path: str) -> str:
    for prefix in (f"/{name}/", f"/content/{name}/", f"/{name}/A/"):
        if _probe(f"http://127.0.0.1:{port}{prefix}{path}")[0] == 200:
            return prefix
    raise SystemExit("cannot find how kiwix-serve names the book")


def kiwix_search(port: int, name: str) -> str:
    for prefix in (f"/search?content={name}&pattern=", f"/search?books.name={name}&pattern="):
        if _probe(f"http://127.0.0.1:{port}{prefix}socket")[0] == 200:
            return prefix
    raise SystemExit("cannot find kiwix-serve's search URL")


def _median(runs: list[dict]) -> dict:
    runs = sorted(runs, key=lambda r: r["rps"])
    return runs[len(runs) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=8, help="length of one run")
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs per server and kind, interleaved; the median is kept")
    ap.add_argument("--threads", type=int, default=4, help="our waitress threads")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--no-precompress", action="store_true",
                    help="serve from the ZIM only (a book whose store is not built yet)")
    args = ap.parse_args()
    for prog, pkg in (("kiwix-serve", "kiwix-tools"), ("wrk", "wrk"), ("taskset", "util-linux")):
        if not shutil.which(prog):
            sys.exit(f"needs {prog}: apt-get install {pkg}")
    zim, paths = build_zim()
    print(f"ZIM: {zim} ({len(paths)} articles, {zim.stat().st_size / 2**20:.0f} MB); "
          f"servers on CPU 0, wrk on CPU 1, {args.connections} connections; "
          f"{args.rounds} interleaved runs of {args.seconds} s per server and kind "
          "(median shown: the machine is shared)", flush=True)
    sample = random.Random(7).sample(paths, min(len(paths), 20000))
    runs: dict[tuple[str, str], list[dict]] = {}
    peak = (0.0, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        quoted = tmp / "paths.txt"
        quoted.write_text("\n".join(urllib.request.quote(p) for p in sample))
        words = tmp / "words.txt"
        words.write_text("\n".join(urllib.request.quote(w) for w in WORDS))
        ours = start_ours(zim, 18080, args.threads, tmp, not args.no_precompress)
        kiwix = start_kiwix(zim, 18081)
        try:
            targets = {
                "espace": ("http://127.0.0.1:18080", f"/library/{zim.stem}/",
                           f"/library/_/search?book={zim.stem}&q="),
                "kiwix-serve": ("http://127.0.0.1:18081", kiwix_prefix(18081, zim.stem,
                                                                        sample[0]),
                                kiwix_search(18081, zim.stem)),
            }
            for server, (base, prefix, _s) in targets.items():
                status, enc = _probe(base + prefix + urllib.request.quote(sample[0]), True)
                print(f"{server}: {base}{prefix}... -> {status}, gzip={enc == 'gzip'}",
                      flush=True)
                wrk(base, prefix, quoted, True, 3, args.connections)  # warm-up, both alike
            for kind in ("gzip", "identity", "search"):
                for _ in range(args.rounds):
                    for server, (base, prefix, search) in targets.items():
                        if kind == "search":
                            r = wrk(base, search, words, True, args.seconds, 10)
                        else:
                            r = wrk(base, prefix, quoted, kind == "gzip", args.seconds,
                                    args.connections)
                        runs.setdefault((server, kind), []).append(r)
                        if server == "espace":
                            peak = max(peak, rss_mb(ours.pid))
                for server in targets:
                    r = _median(runs[(server, kind)])
                    label = "search (10 conn)" if kind == "search" else f"articles {kind}"
                    spread = ", ".join(f"{x['rps']:.0f}" for x in runs[(server, kind)])
                    print(f"  {server:<11} {label:<17}: {r['rps']:6.0f} req/s  p50 "
                          f"{r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms  {r['kb']:5.1f} KB/resp"
                          f"  errors {r['errors']}  (runs: {spread})", flush=True)
        finally:
            stop(ours)
            stop(kiwix)
    res = {k: _median(v) for k, v in runs.items()}
    print("\nratio espace / kiwix-serve (throughput), target in brackets:")
    for kind, target in (("gzip", 2.0), ("identity", 1.0)):
        ratio = res[("espace", kind)]["rps"] / res[("kiwix-serve", kind)]["rps"]
        print(f"  articles {kind:<8}: {ratio:5.2f}x  [>= {target}x]  "
              f"{'OK' if ratio >= target else 'BELOW TARGET'}")
    mine, theirs = res[("espace", "search")]["p95"], res[("kiwix-serve", "search")]["p95"]
    print(f"  search p95: espace {mine:.1f} ms vs kiwix-serve {theirs:.1f} ms  "
          f"[no worse]  {'OK' if mine <= theirs else 'WORSE'}")
    print(f"  espace web process RSS: {peak[0]:.0f} MB at the end, {peak[1]:.0f} MB peak  "
          f"[< 80 MB]  {'OK' if peak[1] < 80 else 'ABOVE TARGET'}")


if __name__ == "__main__":
    main()
