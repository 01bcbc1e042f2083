"""Parse modes and entities behave like Telegram's (TDLib's) parsers."""

from __future__ import annotations

import pytest

from bot.emulator.entities import EntityParseError, utf16_len, utf16_slice
from bot.emulator.errors import BotApiError
from bot.emulator.formatting import format_text
from bot.emulator.markup_html import parse_html
from bot.emulator.markup_markdown import parse_markdown_v2


def test_html_gives_plain_text_and_entities():
    text, entities = parse_html(
        '<b>Berlin</b> &rarr; <i>M&uuml;nchen</i> &lt;2&gt; <a href="example.com">map</a>'
    )
    assert text == "Berlin &rarr; M&uuml;nchen <2> map"
    assert [e["type"] for e in entities] == ["bold", "italic", "text_link"]
    assert entities[2]["url"] == "http://example.com/"


def test_html_pre_with_language_is_one_entity():
    text, entities = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert text == "x = 1"
    assert entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]


def test_entity_offsets_count_utf16_code_units():
    text, entities = parse_html("🚌 <b>Bus</b>")
    assert entities == [{"type": "bold", "offset": 3, "length": 3}]
    assert utf16_len("🚌") == 2
    assert utf16_slice(text, 3, 3) == "Bus"


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
    ],
)
def test_html_errors_are_worded_like_telegram(html, error):
    with pytest.raises(EntityParseError) as caught:
        parse_html(html)
    assert str(caught.value) == error


def test_markdown_v2_entities_and_escapes():
    text, entities = parse_markdown_v2(r"*Total:* 12\.50 EUR, __seat__ ||4A|| [map](https://t.me)")
    assert text == "Total: 12.50 EUR, seat 4A map"
    assert [e["type"] for e in entities] == ["bold", "underline", "spoiler", "text_link"]


@pytest.mark.parametrize(
    ("markdown", "error"),
    [
        ("Version 1.0", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("*bold", "Can't find end of Bold entity at byte offset 0"),
        ("🏟 🏟_abacaba", "Can't find end of Italic entity at byte offset 9"),
    ],
)
def test_markdown_v2_errors_are_worded_like_telegram(markdown, error):
    with pytest.raises(EntityParseError) as caught:
        parse_markdown_v2(markdown)
    assert str(caught.value) == error


def test_format_text_prefixes_the_bot_api_error():
    with pytest.raises(BotApiError) as caught:
        format_text("<b>x", "HTML", None)
    assert caught.value.description == (
        "Bad Request: can't parse entities: "
        'Can\'t find end tag corresponding to start tag "b"'
    )


def test_format_text_trims_and_detects_entities():
    html = "  \n<b>Hi</b> /help or see https://kassa.example/faq.  "
    text, entities = format_text(html, "html", None)
    assert text == "Hi /help or see https://kassa.example/faq."
    assert [(e["type"], utf16_slice(text, e["offset"], e["length"])) for e in entities] == [
        ("bold", "Hi"),
        ("bot_command", "/help"),
        ("url", "https://kassa.example/faq"),
    ]


def test_unknown_parse_mode_is_refused():
    with pytest.raises(BotApiError, match="unsupported parse_mode"):
        format_text("x", "rst", None)
