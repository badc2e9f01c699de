"""Text as the platform stores it: the one cleaner for names, titles, messages and chat.

Invisible characters (zero-width spaces and joiners, the byte-order mark, soft hyphens)
and the bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F) are removed:
they can make a title look empty, or make 〈李四 owes 5,000〉 display as something else
on another person's screen (issue 11, L7; CVE-2021-42574 "Trojan Source"). NUL is
removed because PostgreSQL refuses it in text columns. Line breaks stay where the field
is multi-line; elsewhere every run of white space is one space."""

from __future__ import annotations

import re
import unicodedata

# Explicitly: the bidirectional embeddings, overrides and isolates, the directional marks,
# zero-width characters, the word joiner and invisible operators, the BOM, soft hyphen,
# the Mongolian vowel separator and the interlinear annotation characters.
_INVISIBLE = re.compile(
    "[\u0000\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb]"
)
_CONTROL_EXCEPT_NEWLINE = re.compile("[\u0001-\u0009\u000b-\u001f\u007f-\u009f]")


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """The value without invisible or direction-changing characters, trimmed. Every
    other format character (Unicode category Cf) goes too: an emoji joined by U+200D shows
    as its parts, which loses nothing a dispute needs."""
    text = unicodedata.normalize("NFC", value or "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    if multiline:
        text = _CONTROL_EXCEPT_NEWLINE.sub(lambda m: " " if m.group() == "\t" else "", text)
        lines = [line.rstrip() for line in text.split("\n")]
        return "\n".join(lines).strip()
    text = _CONTROL_EXCEPT_NEWLINE.sub(" ", text.replace("\n", " "))
    return re.sub(r"\s+", " ", text).strip()


def has_visible_text(value: str | None) -> bool:
    return bool(clean_text(value, multiline=True))
