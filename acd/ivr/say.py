"""Numbers, digits, durations and dates spoken from Asterisk's English sound files.

`say_prompts("3", "number", now)` -> `["sound:digits/3"]`. The file names are
those of Asterisk's core sounds (digits/0..20, digits/30..90, digits/hundred,
digits/thousand, digits/million, digits/day-N, digits/mon-N, digits/h-N).
"""

from __future__ import annotations

import re
from datetime import date, datetime

_MAX = 999_999_999


def number(n: int) -> list[str]:
    """English cardinal: 342 -> digits/3 digits/hundred digits/40 digits/2."""
    if n < 0:
        return ["sound:digits/minus", *number(-n)]
    if n <= 20:
        return [f"sound:digits/{n}"]
    if n < 100:
        tens, unit = divmod(n, 10)
        return [f"sound:digits/{tens * 10}", *([f"sound:digits/{unit}"] if unit else [])]
    for size, word in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            high, rest = divmod(n, size)
            return [*number(high), f"sound:digits/{word}", *(number(rest) if rest else [])]
    raise AssertionError("unreachable")


def ordinal(n: int) -> list[str]:
    """1..31 as Asterisk's enumeration sounds: 21 -> digits/20 digits/h-1."""
    if n < 20 or n % 10 == 0:
        return [f"sound:digits/h-{n}"]
    tens, unit = divmod(n, 10)
    return [f"sound:digits/{tens * 10}", f"sound:digits/h-{unit}"]


def digits(text: str) -> list[str]:
    names = {"*": "star", "#": "pound", "-": "dash", "+": "plus"}
    out = []
    for ch in text:
        if ch.isdigit():
            out.append(f"sound:digits/{ch}")
        elif ch in names:
            out.append(f"sound:digits/{names[ch]}")
        elif ch.isalpha() and ch.isascii():
            out.append(f"sound:letters/{ch.lower()}")
    return out


def duration(seconds: int) -> list[str]:
    """125 -> 2 minutes 5 seconds; 0 -> 0 seconds."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    out: list[str] = []
    for amount, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")):
        if amount:
            out += [*number(amount), f"sound:{unit}" if amount == 1 else f"sound:{unit}s"]
    return out or [*number(0), "sound:seconds"]


def spoken_date(day: date) -> list[str]:
    """Weekday, month and day: 2026-03-03 -> day-2 mon-2 h-3 (Asterisk counts Sunday as 0)."""
    weekday = (day.weekday() + 1) % 7
    return [f"sound:digits/day-{weekday}", f"sound:digits/mon-{day.month - 1}", *ordinal(day.day)]


def say_prompts(value: str, kind: str, now: datetime) -> list[str]:
    """The prompts saying `value`; [] when it cannot be said (the caller hears the rest)."""
    value = value.strip()
    if kind == "digits":
        return digits(value)
    if kind == "date":
        if value in ("", "today"):
            return spoken_date(now.date())
        try:
            return spoken_date(date.fromisoformat(value))
        except ValueError:
            return []
    if not re.fullmatch(r"-?\d+(\.\d+)?", value):
        return []
    n = round(float(value))
    if abs(n) > _MAX:
        return digits(str(n))
    return duration(n) if kind == "duration" else number(n)


def queue_position(position: int) -> list[str]:
    """app_queue's words: first in line, or "you are currently caller number N"."""
    if position <= 1:
        return ["sound:queue-youarenext"]
    return ["sound:queue-thereare", *number(position), "sound:queue-callswaiting"]


def queue_wait(seconds: float) -> list[str]:
    """"The estimated hold time is currently N minutes", rounded up to the minute;
    under a minute: "less than 1 minute"."""
    if seconds < 60:
        return ["sound:queue-holdtime", "sound:queue-less-than", *number(1), "sound:queue-minute"]
    minutes = -(-int(seconds) // 60)
    return ["sound:queue-holdtime", *number(minutes), "sound:queue-minutes"]


def queue_announcement(*, message: list[str], position: int | None, wait_s: float | None,
                       say_position: bool, say_wait: bool, callback_offer: list[str]
                       ) -> list[str]:
    """What a waiting caller hears now: the periodic message, their position, the
    expected wait (not when it is unknown or nil), then the callback offer."""
    out = list(message)
    if say_position and position is not None:
        out += queue_position(position)
    if say_wait and wait_s is not None and wait_s > 0:
        out += queue_wait(wait_s)
    return out + list(callback_offer)
