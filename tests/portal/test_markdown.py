"""portal.markdown: Markdown people type becomes HTML with only the allow-listed tags, attributes and link
targets, whatever the input."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest

from portal.markdown import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    LINK_REL,
    MARKDOWN_MAX_CHARS,
    TRUNCATION_NOTE,
    markdown_to_safe_html,
)

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    '<img src="x" onerror="alert(1)">',
    "<iframe src=https://evil.example></iframe>",
    '<a href="javascript:alert(1)">raw</a>',
    "<style>body{display:none}</style>",
    '<div style="background:url(https://evil.example/t.png)">styled</div>',
    "<svg><script>alert(1)</script></svg>",
    "<!-- comment --><b onclick=alert(1)>b</b>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](java&#x09;script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](javascript&colon;alert(1))",
    "<javascript:alert(1)>",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](DATA:text/html,<script>alert(1)</script>)",
    "[x](file:///etc/passwd)",
    "[x](//evil.example/protocol-relative)",
    "[x](/admin/relative)",
    '[x](https://example.org "title" onmouseover=alert(1))',
    "[ref]\n\n[ref]: javascript:alert(1)",
    "![alt](https://evil.example/pixel.png)",
    "![alt](javascript:alert(1))",
    "![a](data:image/gif;base64,R0lGODlhAQABAAAAACw=)",
    "```html\n<script>alert(1)</script>\n```",
    "`<script>alert(1)</script>`",
    "> <script>alert(1)</script>",
    "* <img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "\x00\x01\x07\x08\x0b\x0c\x1b[31mred\x7f\x85\x9b\u202e\u2066gnp.exe",
    "<form action=https://evil.example><input name=q></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
]


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Collect()
    parser.feed(html)
    parser.close()
    return parser.elements


def assert_inert(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set()), (tag, name)
            if name == "href":
                assert (value or "").startswith(("http://", "https://", "mailto:")), value
            if name == "rel":
                assert value == LINK_REL


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_renders_only_allow_listed_tags_attributes_and_links(text):
    html = markdown_to_safe_html(text)
    assert_inert(html)
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<iframe" not in lowered


def test_raw_html_is_shown_as_text_not_interpreted():
    html = markdown_to_safe_html("Before <script>alert(1)</script> after")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_http_https_and_mailto_links_keep_their_target_with_rel_noopener_noreferrer_nofollow():
    html = markdown_to_safe_html("[a](https://example.org/x) [b](http://example.org) [c](mailto:team@example.org)")
    links = [dict(attrs) for tag, attrs in elements(html) if tag == "a"]
    assert [link["href"] for link in links] == ["https://example.org/x", "http://example.org",
                                                 "mailto:team@example.org"]
    assert all(link["rel"] == "noopener noreferrer nofollow" for link in links)


@pytest.mark.parametrize("target", ["javascript:alert(1)", "data:text/html,x", "/relative", "ftp://example.org/x"])
def test_a_link_to_anything_but_http_https_or_mailto_loses_its_target_and_keeps_its_text(target):
    html = markdown_to_safe_html(f"[the text]({target})")
    assert "the text" in html
    assert "href" not in html


def test_an_image_shows_as_its_alt_text_and_never_loads():
    html = markdown_to_safe_html("![a chart of scores](https://example.org/chart.png)")
    assert "<img" not in html and "chart.png" not in html
    assert "a chart of scores" in html


def test_headings_move_down_two_levels_below_the_page_headings():
    html = markdown_to_safe_html("# One\n\n## Two\n\n#### Four")
    assert [tag for tag, _ in elements(html)] == ["h3", "h4", "h6"]


def test_ordinary_markdown_keeps_its_structure():
    html = markdown_to_safe_html("Some **bold** and *em* and `code`.\n\n- one\n- two\n\n3. three\n\n> quoted")
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html and "<code>code</code>" in html
    assert "<ul>" in html and '<ol start="3">' in html and "<blockquote>" in html


def test_control_and_bidirectional_override_characters_are_removed():
    html = markdown_to_safe_html("a\x00b\x07c\x1bd\x7fe\x85f\u202eg\u2066h\r\ni")
    assert html == "<p>abcdefgh\ni</p>\n"


@pytest.mark.parametrize("unit", ["a", "[", "> ", "*a ", "<", "`a", "[a](", "\x00", "&#", "_a_ "])
def test_a_one_megabyte_input_renders_inert_quickly_and_shortened(unit):
    text = unit * (1_000_000 // len(unit))
    started = time.monotonic()
    html = markdown_to_safe_html(text)
    assert time.monotonic() - started < 5
    assert_inert(html)
    assert len(html) < 10 * MARKDOWN_MAX_CHARS
    if unit != "\x00":
        assert TRUNCATION_NOTE in html


def test_empty_text_renders_nothing():
    assert markdown_to_safe_html("") == ""
