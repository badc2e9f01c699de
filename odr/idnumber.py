"""Resident identity card numbers (GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2
check character."""

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PATTERN = re.compile(r"^\d{17}[\dX]$")


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def is_valid_id_number(value: str) -> bool:
    """18 characters, a real date of birth at positions 7-14 (not in the future) and the
    right check character."""
    value = value.strip().upper()
    if not _PATTERN.match(value):
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():
        return False
    return id_check_char(value[:17]) == value[17]


def mask_id_number(value: str) -> str:
    """Shows the region prefix and the last character only: 330523**********1X style."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 7) + value[-1]


def mask_name(name: str) -> str:
    """张三丰 -> 张**; Zhang San -> Z********."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678; a shorter (landline) number keeps only its last four,
    so that a masked number always hides something."""
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    head = 3 if len(digits) >= 11 else 0
    return digits[:head] + "*" * (len(digits) - head - 4) + digits[-4:]


def mask_email(email: str) -> str:
    """li.si@example.com -> l***i@example.com: enough for its owner to recognise, too little
    to write to. A local part of one or two characters is masked whole."""
    local, _, domain = email.partition("@")
    if not domain:
        return mask_name(email)
    if len(local) <= 2:
        return "*" * len(local) + "@" + domain
    return local[0] + "*" * (len(local) - 2) + local[-1] + "@" + domain
