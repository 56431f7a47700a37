"""Links: the one canonical form that decides whether two links name the same story.

Two functions, two purposes:

- `canonical_link` is for identity only (the key an item is stored under, how a second feed or
  an editor's manual item finds a story already stored). It folds what does not change the page:
  the scheme (http and https name one story), the host's case, a default port, tracking
  parameters, and a fragment that only points into a page (`#main`, `#comments`, `#more-123`).
  A fragment that identifies something (`#comment-713578640`, a hash route `#/news/123`, any
  fragment not known to be page navigation) stays: dropping it would merge distinct entries.
- `published_link` is what readers get: the publisher's link made absolute, with only the
  tracking parameters removed. Scheme, query encoding and fragment stay exactly as published.

Neither re-encodes a query: `?id=1;lang=en` keeps its `;` and `=`.
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import unquote, unquote_plus, urljoin, urlsplit, urlunsplit

# Query parameters that only say how a reader arrived: removing them never changes the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "msclkid",
        "yclid",
        "igshid",
        "twclid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "cmpid",
        "spmailingid",
        "spuserid",
        "spjobid",
        "spreportid",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Fragments known to be page navigation: skip links, comment forms, WordPress's "read more"
# anchor, headings and footnotes. Anything else is kept, because a fragment the rules do not know
# may well be what tells two entries apart.
_IN_PAGE_WORDS = frozenset(
    {
        "",
        "top",
        "page-top",
        "start",
        "main",
        "content",
        "main-content",
        "maincontent",
        "skip",
        "skip-link",
        "article",
        "body",
        "more",
        "read-more",
        "continue",
        "continue-reading",
        "comments",
        "comment",
        "respond",
        "reply",
        "comment-form",
        "commentform",
        "disqus_thread",
        "toc",
        "contents",
        "table-of-contents",
        "footnotes",
        "references",
        "summary",
        "history",
        "full-history",
        "full-publication-update-history",
        "documents",
    }
)
_IN_PAGE_NUMBERED = re.compile(
    r"(?:more|section|sec|chapter|heading|h|fn|fnref|footnote|footnote-ref|ref|cite|line|l|page"
    r"|step|slide|figure|fig|table|para|paragraph|part)[-_:.]?\d+(?:[-_.:]\d+)*",
    re.IGNORECASE,
)


def canonical_link(link: str, base: str | None = None) -> str | None:
    """The form of `link` that identifies a story; None unless it is a usable http(s) URL.

    Relative links resolve against `base` (a feed's or entry's URL) first.
    """
    absolute = _absolute(link, base)
    parts = _split(absolute) if absolute is not None else None
    return _canonical(parts) if parts is not None else None


def published_link(link: str, base: str | None = None) -> str | None:
    """The link as the publisher wrote it, made absolute, minus tracking parameters.

    None unless it is a usable http(s) URL. Nothing else changes: not the scheme, not the
    host's case, not the query's encoding, not the fragment.
    """
    forms = link_forms(link, base)
    return forms[0] if forms is not None else None


def link_forms(link: str, base: str | None = None) -> tuple[str, str] | None:
    """(`published_link`, `canonical_link`) of one link, reading it once; None unless it is a
    usable http(s) URL."""
    absolute = _absolute(link, base)
    parts = _split(absolute) if absolute is not None else None
    if absolute is None or parts is None:
        return None
    before, hash_mark, fragment = absolute.partition("#")
    address, question_mark, query = before.partition("?")
    if question_mark:
        query = _without_tracking(query)
        before = f"{address}?{query}" if query else address
    return f"{before}{hash_mark}{fragment}", _canonical(parts)


def is_tracking_param(name: str) -> bool:
    key = unquote_plus(name).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _absolute(link: str, base: str | None) -> str | None:
    link = link.strip()
    if not link:
        return None
    if base and not link.lower().startswith(("https://", "http://")):
        try:
            link = urljoin(base.strip(), link)
        except ValueError:
            return None
    return link


def _split(absolute: str) -> tuple[str, str, int | None, str, str, str] | None:
    try:
        parts = urlsplit(absolute)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.rstrip(".").lower()
    if ":" in host:
        host = f"[{host}]"
    elif not host.isascii():
        # Not a valid IDN: the lower-cased text still identifies it.
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return scheme, host, port, parts.path, parts.query, parts.fragment


def _canonical(parts: tuple[str, str, int | None, str, str, str]) -> str:
    scheme, host, port, path, query, fragment = parts
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    query, fragment = _without_tracking(query), _identifying(fragment)
    return urlunsplit(("https", netloc, path or "/", query, fragment))


def _without_tracking(query: str) -> str:
    if not query:
        return ""
    pieces = [piece for piece in query.split("&") if piece]
    kept = [piece for piece in pieces if not is_tracking_param(piece.partition("=")[0])]
    return "&".join(kept)


def _identifying(fragment: str) -> str:
    """The fragment if it identifies something, else "" (it only points into the page)."""
    if fragment.startswith(("/", "!")):
        return fragment  # a hash route: `#/news/123`, `#!/post/9`
    text = unquote(fragment).strip()
    if ":~:" in text or "=" in text:
        return ""  # a text fragment, a media offset (`#t=30`) or a tracker (`#xtor=RSS-3`)
    if text.lower() in _IN_PAGE_WORDS or _IN_PAGE_NUMBERED.fullmatch(text):
        return ""
    return fragment
