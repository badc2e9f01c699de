"""Evidence files are judged by their content, never their name (CONTRACT §3): PDF, JPEG,
PNG, MP3/M4A/WAV audio and MP4 video, up to the configured size."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass
from typing import IO

import filetype
from django.conf import settings
from django.utils.translation import gettext as _

from odr.errors import Invalid

# Detected MIME type -> (extension we store, what we call it).
ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/m4a": ".m4a",
    "audio/x-wav": ".wav",
    "audio/wav": ".wav",
    "video/mp4": ".mp4",
}


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    extension: str
    content_type: str
    size: int
    sha256: str


def clean_filename(name: str) -> str:
    """The last path component only, without control characters: a name from a browser
    may carry `C:\\...\\` or `../` and must never reach the file system as a path."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    name = name.lstrip(".")
    return name[:150] or "file"


def _sniff(head: bytes) -> str | None:
    kind = filetype.guess(head)
    if kind is None:
        # MP3 without an ID3 tag starts with a frame sync word.
        if len(head) > 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
            return "audio/mpeg"
        return None
    mime = kind.mime
    if mime == "video/mp4" and b"M4A " in head[:32]:
        return "audio/mp4"
    return mime


def check_upload(upload: IO[bytes], *, name: str, size: int | None = None) -> CheckedFile:
    """Raises Invalid with a clear message for anything not kept; reads the file once to
    hash it and leaves it rewound."""
    limit = settings.ODR_EVIDENCE_MAX_BYTES
    if size is not None and size > limit:
        raise Invalid(
            _("The file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)},
            code="file_too_large",
        )
    upload.seek(0)
    head = upload.read(8192)
    if not head:
        raise Invalid(_("The file is empty."), code="file_empty")
    mime = _sniff(head)
    if mime not in ALLOWED_TYPES:
        raise Invalid(
            _(
                "This kind of file cannot be kept as evidence. Upload a PDF, a photo (JPEG or "
                "PNG), a recording (MP3, M4A or WAV) or a video (MP4)."
            ),
            code="file_type_not_allowed",
        )
    digest = hashlib.sha256(head)
    total = len(head)
    while chunk := upload.read(1024 * 1024):
        total += len(chunk)
        if total > limit:
            raise Invalid(
                _("The file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)},
                code="file_too_large",
            )
        digest.update(chunk)
    upload.seek(0)
    extension = ALLOWED_TYPES[mime]
    filename = clean_filename(name)
    stem, _ext = os.path.splitext(filename)
    return CheckedFile(
        filename=f"{stem or 'file'}{extension}",
        extension=extension,
        content_type=mime,
        size=total,
        sha256=digest.hexdigest(),
    )
