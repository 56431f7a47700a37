"""The Markdown archive post is safe for the static sites it is written for (Jekyll: Liquid, then
kramdown), and the editor's introduction renders one way in the email, the archive page and the
post. The post is run through Debian's ruby-liquid and ruby-kramdown, as Jekyll would."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from actwatch.bulletin.compose import compose
from actwatch.bulletin.markdown import archive_html, introduction, md_text, md_url
from actwatch.bulletin.model import Bulletin, StoredItem
from actwatch.bulletin.render import preview_links, render_html, render_markdown, render_text
from actwatch.bulletin.seasons import parse_season
from actwatch.config import Config
from tests.bulletin.fixtures import NOW
from tests.bulletin.test_render import golden_bulletin

# What a feed or an editor might write to run script, templates or extensions on a static site.
HOSTILE = [
    "{::nomarkdown}<img src=x onerror=alert(1)>{:/}",
    "{{ 7 | times: 7 }}",
    "{% raw %}",
    "{% include secrets.yml %}",
    "{% endraw %}",
    "{::comment}hidden{:/comment}",
    '{: onclick="alert(2)"}',
    '*styled*{: .x onmouseover="alert(3)"}',
    "<script>alert(4)</script>",
    "[click](javascript:alert(5))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg2KTwvc2NyaXB0Pg==)",
    "[entity](&#106;avascript:alert(7))",
    "<a href='javascript:alert(8)'>x</a>",
    "$$ \\alert(9) $$",
    "^",
    "~~~",
]
HOSTILE_LINKS = [
    "javascript:alert(10)",
    "data:text/html,<script>alert(11)</script>",
    "https://example.org/{{ 7 | times: 7 }}/{% raw %}",
    "https://example.org/a) [b](javascript:alert(12)",
    ' https://example.org/"onmouseover="alert(13)',
]
HOSTILE_INTRO = "\n\n".join(
    [
        "The editor writes {{ 7 | times: 7 }} and {% include x.html %} and {::nomarkdown}"
        "<img src=x onerror=alert(20)>{:/} in the introduction.",
        '{: onclick="alert(21)" .danger}',
        "- [a javascript link](javascript:alert(22)) and [data](data:text/html,hi)",
        "- [a vbscript link](vbscript:msgbox(23)) and <b onclick=alert(24)>raw</b>",
        '- *emphasis*{: onmouseover="alert(25)"} and ![an image](https://example.org/i.png)',
        ": a kramdown definition",
        "`{{ code }}` and `plain code`",
        "[a good link](https://example.org/good) and [mail](mailto:editor@example.org)",
    ]
)
RUBY = r"""
require "liquid"
require "kramdown"
source = STDIN.read
front, body = source.match(/\A---\n(.*?)\n---\n(.*)\z/m).captures
# Jekyll renders Liquid in the body, then kramdown; an error in either aborts the build.
rendered = Liquid::Template.parse(body, error_mode: :strict).render!({}, strict_variables: true)
STDOUT.write(front + "\n=====\n" + Kramdown::Document.new(rendered, input: "kramdown").to_html)
"""


def hostile_bulletin(config: Config) -> Bulletin:
    items = [
        StoredItem(
            id=index + 1,
            title=f"Item {index}: {text}",
            link=HOSTILE_LINKS[index % len(HOSTILE_LINKS)],
            source=f"Source {text}",
            published_at=datetime(2017, 10, 1 + index, tzinfo=UTC),
            summary=f"Summary {text} {HOSTILE[-1 - index]}",
            event_type=("guidance", "pilot", "other", "consultation")[index % 4],
            strands=(("care-leavers",), ("safeguarding-partnerships",), ())[index % 3],
        )
        for index, text in enumerate(HOSTILE)
    ]
    return compose(
        config,
        parse_season(config, "autumn-2017"),
        items=items,
        headline="{{ site.title }} {% raw %} headline",
        intro_md=HOSTILE_INTRO,
        issued_on=NOW.date(),
    )


class Elements(HTMLParser):
    """Every element and attribute of a page (attribute values with entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> Elements:
    page = Elements()
    page.feed(html)
    page.close()
    return page


def assert_harmless(html: str) -> Elements:
    page = parsed(html)
    assert "script" not in page.tags and "img" not in page.tags
    for tag, name, value in page.attributes:
        assert not name.startswith("on"), (tag, name, value)
        assert name in ("href", "id", "title", "rel", "style"), (tag, name, value)
        if name == "href":
            assert value.strip().lower().startswith(("https:", "http:", "mailto:", "#")), value
    return page


def test_the_post_through_liquid_and_kramdown_runs_nothing(config: Config) -> None:
    bulletin = hostile_bulletin(config)
    markdown = render_markdown(bulletin, preview_links(config, "autumn-2017"))
    # Liquid acts only on these; none may reach the file, front matter included.
    assert "{{" not in markdown and "{%" not in markdown
    result = subprocess.run(
        ["ruby", "-e", RUBY], input=markdown, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr  # Liquid did not abort the "site build"
    front, html = result.stdout.split("\n=====\n", 1)
    page = assert_harmless(html)
    text = "".join(page.text)
    # Every hostile string is shown to the reader as the text it was, never run or evaluated.
    assert "{{ 7 | times: 7 }}" in text and "49" not in text.replace("2017", "")
    assert "{::nomarkdown}<img src=x onerror=alert(1)>{:/}" in text
    assert "{% include secrets.yml %}" in text and "{: onclick=" in text
    assert "The editor writes {{ 7 | times: 7 }} and {% include x.html %}" in text
    assert ": a kramdown definition" in text and "dl" not in page.tags
    assert "{{ code }}" in text
    assert ("a", "href", "https://example.org/good") in page.attributes
    assert "{{ site.title }}" in front.encode().decode("unicode_escape")  # YAML escapes


def test_the_archive_page_reads_the_post_the_same_way(config: Config) -> None:
    bulletin = hostile_bulletin(config)
    page = assert_harmless(
        str(archive_html(render_markdown(bulletin, preview_links(config, "autumn-2017"))))
    )
    text = "".join(page.text)
    assert "{{ 7 | times: 7 }}" in text and "{::nomarkdown}<img src=x onerror=alert(1)>{:/}" in text


def test_the_email_is_harmless_too(config: Config) -> None:
    bulletin = hostile_bulletin(config)
    links = preview_links(config, "autumn-2017")
    html = render_html(bulletin, links)
    page = parsed(html)
    assert "script" not in page.tags
    assert not [a for a in page.attributes if a[1].startswith("on")]
    hrefs = [value for _, name, value in page.attributes if name == "href"]
    assert not [h for h in hrefs if not h.startswith(("https:", "http:", "mailto:"))]
    # The plain-text part writes a link's address after its words, for web and mail links only.
    text = " ".join(render_text(bulletin, links).split())
    assert "a good link (https://example.org/good)" in text
    assert "a javascript link (javascript" not in text and "link (vbscript" not in text


def _tight(html: str) -> str:
    return re.sub(r">\s+<", "><", str(html)).strip()


@pytest.mark.parametrize(
    "intro",
    [
        HOSTILE_INTRO,
        'A chart: ![Placements by region](https://example.org/chart.png "title")\n\n'
        "1. first\n2. second with **bold** and *em*\n\n> quoted `code`\n\n### A heading",
    ],
)
def test_the_introduction_renders_the_same_in_email_archive_page_and_post(
    config: Config, intro: str
) -> None:
    bulletin = dataclasses.replace(golden_bulletin(config), intro_md=intro)
    links = preview_links(config, "autumn-2017")
    rendered = introduction(intro)
    post = render_markdown(bulletin, links)
    assert rendered.markdown in post
    assert _tight(rendered.html) in _tight(str(archive_html(post)))
    assert _tight(rendered.html) in _tight(render_html(bulletin, links))
    # One decision on images, everywhere: none; the picture becomes a link to it.
    assert "<img" not in rendered.html
    if "chart.png" in intro:
        assert (
            '<a href="https://example.org/chart.png" rel="noopener">Placements by region</a>'
            in rendered.html
        )
        assert "Placements by region (https://example.org/chart.png)" in rendered.text


def test_the_editors_markdown_keeps_only_web_and_mail_links() -> None:
    rendered = introduction(
        "[a](javascript:alert(1)) [b](data:text/html,x) [c](vbscript:x) [d](file:///etc/passwd) "
        "[e](ftp://example.org/) [f](https://example.org/) [g](mailto:a@example.org) "
        "[h](//evil.example/) [i](/relative) <https://example.org/auto>"
    )
    hrefs = re.findall(r'href="([^"]*)"', rendered.html)
    assert hrefs == ["https://example.org/", "mailto:a@example.org", "https://example.org/auto"]
    assert "](javascript:" not in rendered.markdown.replace("\\]", "]").replace("\\(", "(") or (
        "[a](javascript" not in rendered.markdown
    )


def test_text_and_links_are_escaped_for_every_reader() -> None:
    assert (
        md_text("{{ x }} {% y %} {: z}")
        == "&#123;&#123; x &#125;&#125; &#123;% y %&#125; &#123;: z&#125;"
    )
    assert md_text("- looks like a list") == "\\- looks like a list"
    assert md_text("2017. A year") == "2017\\. A year"
    assert md_text("a | b & c ~ d ^ e $$") == "a \\| b &amp; c &#126; d &#94; e \\$\\$"
    assert (
        md_url("https://example.org/{{x}}/(y) z") == "https://example.org/%7B%7Bx%7D%7D/%28y%29%20z"
    )
    assert md_url("javascript:alert(1)") == ""
