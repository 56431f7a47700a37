"""Links: one canonical form for identity, and the published form readers get."""

from __future__ import annotations

import pytest

from actwatch.core.links import canonical_link, published_link


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://www.gov.uk/government/news/x", "https://www.gov.uk/government/news/x"),
        # Scheme- and case-insensitive host, default port and trailing dot dropped.
        ("HTTP://WWW.GOV.UK/government/news/x", "https://www.gov.uk/government/news/x"),
        (
            "http://www.legislation.gov.uk/id/uksi/2018/346",
            "https://www.legislation.gov.uk/id/uksi/2018/346",
        ),
        ("https://Example.org.:443/path/", "https://example.org/path/"),
        ("http://example.org:80", "https://example.org/"),
        ("http://127.0.0.1:8123/feed.rss", "https://127.0.0.1:8123/feed.rss"),
        ("http://[::1]:8080/a", "https://[::1]:8080/a"),
        ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),
        # The path's case matters.
        ("https://example.org/News/A", "https://example.org/News/A"),
        # Tracking parameters go; the rest of the query stays exactly as written, in order.
        ("https://example.org/a?utm_source=rss&utm_medium=rss&p=2", "https://example.org/a?p=2"),
        ("https://example.org/a?b=2&a=1&fbclid=xyz&gclid=1", "https://example.org/a?b=2&a=1"),
        ("https://example.org/a?UTM_Campaign=x", "https://example.org/a"),
        ("https://example.org/a?id=1;lang=en", "https://example.org/a?id=1;lang=en"),
        (
            "https://example.org/a?q=caf%C3%A9+au+lait&x",
            "https://example.org/a?q=caf%C3%A9+au+lait&x",
        ),
        # Fragments that identify something stay.
        (
            "https://disqus.example/p/#comment-713578640",
            "https://disqus.example/p/#comment-713578640",
        ),
        ("https://app.example/#/news/123", "https://app.example/#/news/123"),
        ("https://app.example/#!/post/9", "https://app.example/#!/post/9"),
        (
            "https://example.org/news.html#new-regulator",
            "https://example.org/news.html#new-regulator",
        ),
        (
            "https://github.com/o/r/issues/1#issuecomment-42",
            "https://github.com/o/r/issues/1#issuecomment-42",
        ),
        # Fragments that only point into a page go.
        ("https://www.gov.uk/government/news/x#main", "https://www.gov.uk/government/news/x"),
        ("https://example.org/post/#more-1234", "https://example.org/post/"),
        ("https://example.org/post/#respond", "https://example.org/post/"),
        ("https://example.org/post/#comments", "https://example.org/post/"),
        ("https://example.org/doc#section-2", "https://example.org/doc"),
        ("https://www.gov.uk/x#full-publication-update-history", "https://www.gov.uk/x"),
        ("https://example.org/doc#fn:1", "https://example.org/doc"),
        ("https://example.org/doc#:~:text=care%20leavers", "https://example.org/doc"),
        ("https://example.org/doc#xtor=RSS-3", "https://example.org/doc"),
        ("https://example.org/doc#", "https://example.org/doc"),
        # Not http(s), or not a URL at all.
        ("mailto:someone@example.org", None),
        ("javascript:alert(1)", None),
        ("tag:www.gov.uk,2005:/government/news/x", None),
        ("", None),
        ("   ", None),
        ("http://[::1", None),
        ("https://", None),
    ],
)
def test_canonical_link(link: str, expected: str | None) -> None:
    assert canonical_link(link) == expected


def test_canonical_link_is_idempotent() -> None:
    for link in (
        "HTTP://Example.org/a?utm_source=x&id=1;lang=en#comment-5",
        "https://example.org/#/news/1",
        "http://example.org:8080/x#main",
    ):
        once = canonical_link(link)
        assert once is not None and canonical_link(once) == once


def test_relative_links_resolve_against_the_base() -> None:
    assert canonical_link("/news/a", "https://www.cypnow.co.uk/rss/news") == (
        "https://www.cypnow.co.uk/news/a"
    )
    assert (
        published_link("a?utm_source=x", "http://example.org/blog/") == "http://example.org/blog/a"
    )
    # An absolute link ignores the base.
    assert published_link("http://other.example/x", "https://example.org/") == (
        "http://other.example/x"
    )


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        # Exactly as published: scheme, host case, query encoding and fragment untouched.
        ("http://Example.org/A?id=1;lang=en#main", "http://Example.org/A?id=1;lang=en#main"),
        ("http://example.org/app/#/news/123", "http://example.org/app/#/news/123"),
        ("https://example.org/a?q=a%20b&x=1", "https://example.org/a?q=a%20b&x=1"),
        # Only tracking parameters are removed.
        ("http://example.org/a?utm_source=rss&p=2&fbclid=1", "http://example.org/a?p=2"),
        ("http://example.org/a?utm_source=rss#comment-5", "http://example.org/a#comment-5"),
        ("  https://example.org/a  ", "https://example.org/a"),
        ("ftp://example.org/a", None),
        ("", None),
    ],
)
def test_published_link(link: str, expected: str | None) -> None:
    assert published_link(link) == expected


def test_links_that_differ_only_in_tracking_or_scheme_share_one_identity() -> None:
    published = [
        "http://www.communitycare.co.uk/2019/12/02/swe/?utm_source=rss&utm_medium=rss",
        "https://www.communitycare.co.uk/2019/12/02/swe/",
        "https://WWW.communitycare.co.uk/2019/12/02/swe/#respond",
    ]
    assert len({canonical_link(link) for link in published}) == 1
    comments = [
        "https://example.org/post/#comment-713578640",
        "https://example.org/post/#comment-713578641",
    ]
    assert len({canonical_link(link) for link in comments}) == 2
