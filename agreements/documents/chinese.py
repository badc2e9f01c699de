"""Chinese renderings used in official documents: money in capitals (大写), dates, ordinals."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils import timezone

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ["", "拾", "佰", "仟"]
_SECTIONS = ["", "万", "亿", "万亿"]
_ORDINALS = "零一二三四五六七八九"


def _four(n: int) -> str:
    """0 < n < 10000 as capitals without the section unit, with inner zeros kept."""
    out, zero = "", False
    for pos in range(3, -1, -1):
        d = (n // 10**pos) % 10
        if d == 0:
            zero = bool(out)
        else:
            if zero:
                out += "零"
                zero = False
            out += _DIGITS[d] + _UNITS[pos]
    return out


def amount_in_words(amount: Decimal | str | int | float) -> str:
    """人民币 amount in capitals as written on cheques and agreements:
    10000 -> 壹万元整, 1234.50 -> 壹仟贰佰叁拾肆元伍角, 100.05 -> 壹佰元零伍分."""
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"Not an amount: {amount!r}") from exc
    if value < 0:
        return "负" + amount_in_words(-value)
    cents = int(value * 100)
    yuan, jiao, fen = cents // 100, (cents // 10) % 10, cents % 10
    words = ""
    if yuan:
        sections: list[int] = []
        while yuan:
            sections.append(yuan % 10000)
            yuan //= 10000
        need_zero = False
        for index in range(len(sections) - 1, -1, -1):
            part = sections[index]
            if part == 0:
                need_zero = bool(words)
                continue
            if words and (need_zero or part < 1000):
                words += "零"
            words += _four(part) + _SECTIONS[index]
            need_zero = False
        words += "元"
    if not jiao and not fen:
        return (words or "零元") + "整"
    if jiao:
        words += _DIGITS[jiao] + "角"
    elif words:
        words += "零"
    if fen:
        words += _DIGITS[fen] + "分"
    return words


def format_amount(amount: Decimal | str | int | float) -> str:
    value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"¥{value:,.2f}"


def ordinal(n: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 21 -> 二十一 (clause numbers 一、二、)."""
    if n < 10:
        return _ORDINALS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _ORDINALS[tens]
    return head + "十" + (_ORDINALS[ones] if ones else "")


def cn_date(value: date | datetime | str | None) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{value.year}年{value.month}月{value.day}日"


_NUMERALS = "〇一二三四五六七八九"


def cn_numeral_date(value: date | datetime | str | None) -> str:
    """A document's sign-off date in Chinese numerals: 2026-12-01 -> 二〇二六年十二月一日
    (the year digit by digit, month and day as numbers), as rulings and agreements print."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    year = "".join(_NUMERALS[int(d)] for d in str(value.year))
    return f"{year}年{ordinal(value.month)}月{ordinal(value.day)}日"


def cn_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M:%S}"
