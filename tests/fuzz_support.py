"""Hostile parameters for every route of a Flask app (hypothesis strategies), shared by
the box's and central's fuzz tests: each route of the app's url_map is called with
hostile path arguments, query strings and form fields, and must not answer 5xx."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import strategies as st


def acceptable(status: int) -> bool:
    """Any answer but a server error. 503 is a deliberate answer about the box's state
    (the offline map not built yet), whatever the parameters, not a crash."""
    return status < 500 or status == 503


HUGE = [2**63, 2**63 - 1, 2**64 + 1, 10**30, -(2**63) - 1, 2**31, 2**32]

# Text an attacker tries: numbers past every integer type, signs and exponents,
# control and bidi characters, N'Ko and Arabic, SQL, traversal, markup, long text.
HOSTILE_TEXT = st.one_of(
    st.sampled_from(
        [str(n) for n in HUGE]
        + [
            "",
            "0",
            "-1",
            "1e309",
            "NaN",
            "inf",
            "0x10",
            " 7",
            "٣",
            "1_000",
            "\x00",
            "\r\n",
            "\t=1+1",
            "\u202eevil",
            "ߒߞߏ",
            "مرحبا",
            "' OR 1=1 --",
            "../../etc/passwd",
            "%2e%2e%2f",
            "<script>alert(1)</script>",
            "a" * 5000,
            "\ud800",
            "2026-02-30",
            "25:61",
            "[]",
            "{}",
            "null",
            "true",
            "[1, 2]",
        ]
    ),
    st.text(max_size=40),
    st.integers().map(str),
)

FIELDS = [
    "name",
    "phone",
    "code",
    "pin",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "title",
    "kind",
    "capacity",
    "duration_min",
    "date",
    "weeks",
    "occurrence",
    "reserved_women",
    "reserved_youth",
    "release_min",
    "repeat",
    "body",
    "theme",
    "target",
    "commune",
    "gender",
    "age_group",
    "official_name",
    "restore",
    "q",
    "book",
    "status",
    "site",
    "days",
    "metric",
    "page",
    "next",
    "lang",
    "reason",
    "action",
    "into",
    "username",
    "password",
    "offset",
    "limit",
    "text",
    "url",
]


def path_value(converter: str) -> st.SearchStrategy[str]:
    if converter == "IntegerConverter":
        return st.one_of(
            st.sampled_from([n for n in HUGE if n >= 0]), st.integers(min_value=0)
        ).map(str)
    # Real values too (a language code, a short code), so that a route's own checks
    # pass and its parameters reach the code behind them.
    return st.one_of(
        st.sampled_from(["fr", "bm", "en", "ar", "1", "ABCDEF", "nioro"]),
        HOSTILE_TEXT.filter(lambda v: v and "/" not in v).map(
            lambda v: quote(v.encode("utf-8", "surrogatepass"), safe="")
        ),
    )


def rule_calls(app, skip=()) -> list[tuple[str, object, list[str]]]:
    """(rule, its converters by argument, methods) of every route but ``skip``."""
    calls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in skip or rule.rule.startswith(skip):
            continue
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        converters = {name: type(conv).__name__ for name, conv in rule._converters.items()}
        calls.append((rule.rule, converters, methods))
    return calls


@st.composite
def requests(draw, calls):
    """One hostile request: (method, path with query string, form data)."""
    rule, converters, methods = draw(st.sampled_from(calls))
    path = rule
    for name, converter in converters.items():
        kind = "IntegerConverter" if converter == "IntegerConverter" else "text"
        value = draw(path_value(kind))
        path = path.replace(f"<{_spec(rule, name)}>", value)
    method = draw(st.sampled_from(methods))
    fields = draw(
        st.dictionaries(
            st.sampled_from(FIELDS), st.lists(HOSTILE_TEXT, min_size=1, max_size=3), max_size=6
        )
    )
    query = "&".join(
        f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
        for k, vs in fields.items()
        for v in vs
    )
    if method == "GET":
        return method, f"{path}?{query}" if query else path, {}
    # A form field cannot carry a lone surrogate (the client encodes UTF-8): the raw
    # invalid bytes go through the path and query string instead.
    form = {
        k: [v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for v in vs]
        for k, vs in fields.items()
    }
    return method, path, form


def _spec(rule: str, name: str) -> str:
    """The text between < and > for argument ``name`` in ``rule``."""
    start = rule.index(f"{name}>") if f"<{name}>" in rule else None
    if start is not None:
        return name
    for part in rule.split("<")[1:]:
        inside = part.split(">", 1)[0]
        if inside.endswith(f":{name}"):
            return inside
    raise KeyError(name)
