"""The one Markdown renderer for text people type (finding summaries, comments): safe HTML for pages and PDFs.

markdown-it-py (CommonMark, raw HTML off, no linkify, no typographer) renders; nh3 then keeps only a small
allow-list of tags and attributes. Links keep only http, https and mailto targets and get
``rel="noopener noreferrer nofollow"``; images become their alt text; headings move down two levels so that a
summary never competes with the page's own headings; control characters are dropped; input longer than
``MARKDOWN_MAX_CHARS`` is cut, with a visible note.
"""

from __future__ import annotations

import re
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

MARKDOWN_MAX_CHARS = 20_000
TRUNCATION_NOTE = "[Text shortened: it was longer than the portal shows.]"
HEADING_OFFSET = 2
LINK_REL = "noopener noreferrer nofollow"
ALLOWED_SCHEMES = ("http:", "https:", "mailto:")

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h3", "h4", "h5", "h6",
}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href"}, "ol": {"start"}}

# C0 controls except tab and newline, DEL, C1 controls, and the bidirectional embedding/override/isolate
# characters (text that reads differently from what it is).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def strip_control_characters(text: str) -> str:
    """Text without control characters; CR and CRLF become LF."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _render_image(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    # An image never loads: it shows as its alt text (escaped by the text renderer).
    token = tokens[idx]
    return self.renderInline(token.children or [], options, env)


def _shift_headings(state: Any) -> None:
    for token in state.tokens:
        if token.type in {"heading_open", "heading_close"}:
            level = min(int(token.tag[1]) + HEADING_OFFSET, 6)
            token.tag = f"h{level}"


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.add_render_rule("image", _render_image)
    md.core.ruler.push("portal_shift_headings", _shift_headings)
    return md


_MD = _build()


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    if element == "a" and attribute == "href":
        target = value.strip().lower()
        return value if target.startswith(ALLOWED_SCHEMES) else None
    if element == "ol" and attribute == "start":
        return value if value.isdigit() and len(value) <= 6 else None
    return value


def sanitise_html(html: str) -> str:
    """Any HTML through the portal's allow-list (the second half of ``markdown_to_safe_html``)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={scheme.rstrip(":") for scheme in ALLOWED_SCHEMES},
        link_rel=LINK_REL,
        attribute_filter=_attribute_filter,
        strip_comments=True,
    )


def markdown_to_safe_html(text: str) -> str:
    """Markdown source as HTML that is safe to place in a page or a PDF as it is."""
    source = strip_control_characters(text or "")
    truncated = len(source) > MARKDOWN_MAX_CHARS
    if truncated:
        source = source[:MARKDOWN_MAX_CHARS]
    html = sanitise_html(_MD.render(source))
    if truncated:
        html += f"<p><em>{TRUNCATION_NOTE}</em></p>"
    return html
