"""Bounds on an uploaded PDF before pyHanko reads it (issue 11, L4).

pyHanko's reader parses arrays and dictionaries recursively and trusts the counts a file
declares: a few hundred kilobytes of `[[[[…` exhaust the stack (RecursionError, a 500),
and a cross-reference stream declaring a billion entries keeps the reader busy for ever
in lenient mode. Anyone may upload a file to /verify, so the file's structure is scanned
first, in linear time and without recursion: nesting outside strings, streams and
comments, the declared object counts, the revisions and the signature fields. Every
document the platform issues is far inside these limits; a file outside them is refused
as not a PDF we read, never parsed."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

# Our agreements and rulings nest a few levels deep and hold a few hundred objects, one
# revision per signature and seal; their syntax outside streams is a few thousand tokens.
MAX_NESTING = 64
MAX_OBJECTS = 100_000
MAX_REVISIONS = 200
MAX_SIGNATURE_FIELDS = 64
# Bytes that may open or close syntax ([ ] < > ( ) %), counted at C speed before the
# scan below walks them one by one: it bounds the scan's own time. Binary stream data
# has under 3 in 100: a 30 MB file of random bytes stays under a million; the walk over
# a million takes about a second.
MAX_SYNTAX_BYTES = 1_000_000

# What changes the nesting or starts text the nesting must not be read in: dictionary
# and array brackets, literal and hexadecimal strings, comments and stream data.
_TOKEN = re.compile(rb"<<|>>|[\[\]()<%]|(?<![A-Za-z])stream(?=[\r\n])")
_STRING_END = re.compile(rb"[()\\]")
_SIMPLE_STRING_REST = re.compile(rb"[^()\\]*\)")  # most strings: no parenthesis, no escape
_LINE_END = re.compile(rb"[\r\n]")
_GAP = rb"(?:\s|%[^\r\n]*)*"  # white space and comments between two tokens


def _name(word: str) -> bytes:
    """A PDF name as a pattern: each character may be written as itself or as #xx
    (PDF 32000-1 §7.3.5), so `/Si#7Ae` is `/Size` to the reader and to this check."""

    def char(ch: str) -> str:
        escaped = "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{ord(ch):02x}")
        return f"(?:{re.escape(ch)}|#{escaped})"

    return ("/" + "".join(char(ch) for ch in word)).encode()


# The counts a cross-reference stream declares, which the reader loops over even when
# the stream holds no data for them: /Size and the (first, count) pairs of /Index.
_SIZE = re.compile(_name("Size") + rb"(?![^\s/\[\]<>(){}%])" + _GAP + rb"\+?(\d+)")
_INDEX = re.compile(_name("Index") + rb"(?![^\s/\[\]<>(){}%])" + _GAP + rb"\[([^\]]*)\]")
_COMMENT = re.compile(rb"%[^\r\n]*")
_NUMBER = re.compile(rb"[+-]?\d+")
_SIGNATURE_FIELD = re.compile(_name("FT") + _GAP + _name("Sig") + rb"(?![^\s/\[\]<>(){}%])")


def _skip_literal_string(data: bytes, pos: int) -> int:
    """The position after the literal string whose "(" is just before `pos`: balanced
    parentheses, backslash escapes (PDF 32000-1 §7.3.4.2). Counted, not recursed."""
    simple = _SIMPLE_STRING_REST.match(data, pos)
    if simple is not None:
        return simple.end()
    depth = 1
    while depth:
        match = _STRING_END.search(data, pos)
        if match is None:
            return len(data)
        char = match.group()
        if char == b"\\":
            pos = match.end() + 1
            continue
        depth += 1 if char == b"(" else -1
        pos = match.end()
    return pos


def _nesting_problem(data: bytes) -> str | None:
    depth = 0
    pos = 0
    while True:
        match = _TOKEN.search(data, pos)
        if match is None:
            return None
        token, pos = match.group(), match.end()
        if token in (b"<<", b"["):
            depth += 1
            if depth > MAX_NESTING:
                return _("arrays and dictionaries are nested more than %(n)s deep") % {
                    "n": MAX_NESTING
                }
        elif token in (b">>", b"]"):
            depth = max(depth - 1, 0)
        elif token == b"(":
            pos = _skip_literal_string(data, pos)
        elif token == b"<":
            end = data.find(b">", pos)
            pos = len(data) if end < 0 else end + 1
        elif token == b"%":
            end = _LINE_END.search(data, pos)
            pos = len(data) if end is None else end.end()
        else:  # stream data is bytes, not syntax: resume after it
            end = data.find(b"endstream", pos)
            pos = len(data) if end < 0 else end + len(b"endstream")


def _count_problem(data: bytes) -> str | None:
    counts = [int(m.group(1)) for m in _SIZE.finditer(data)]
    for index in _INDEX.finditer(data):
        numbers = _NUMBER.findall(_COMMENT.sub(b" ", index.group(1)))
        counts += [int(n) for n in numbers[1::2]]
    if any(count > MAX_OBJECTS for count in counts):
        return _("it declares more than %(n)s objects") % {"n": MAX_OBJECTS}
    if data.count(b"startxref") > MAX_REVISIONS:
        return _("it has more than %(n)s revisions") % {"n": MAX_REVISIONS}
    if len(_SIGNATURE_FIELD.findall(data)) > MAX_SIGNATURE_FIELDS:
        return _("it has more than %(n)s signature fields") % {"n": MAX_SIGNATURE_FIELDS}
    return None


def structure_problem(data: bytes) -> str | None:
    """Why this file is outside what the reader may be given, in words, or None."""
    if sum(data.count(bytes([c])) for c in b"[]<>()%") > MAX_SYNTAX_BYTES:
        return _("its structure is larger than any document the platform issues")
    return _count_problem(data) or _nesting_problem(data)
