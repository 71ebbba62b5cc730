"""How long each prompt plays, by media URI.

Asterisk takes a prompt's length from its file; the simulator takes it from this
table. Add a sound by adding a line to `SOUNDS` (seconds), or at run time with
`Simulator.sounds[name] = seconds`. A `sound:` name missing from the table fails
at once, like a missing file on a real Asterisk (PlaybackFinished `failed`).
"""

from __future__ import annotations

from collections.abc import Mapping

# Seconds of audio for each sound name (language-independent: Asterisk ships the
# same prompts in every language with similar lengths).
SOUNDS: dict[str, float] = {
    "acd-welcome": 4.2,
    "hello-world": 1.1,
    "acd-main-menu": 5.0,
    "acd-invalid": 1.8,
    "acd-goodbye": 1.5,
    "acd-hold": 2.5,
    "acd-position": 1.6,
    "acd-please-hold": 2.0,
    "acd-thank-you": 1.2,
    "acd-closed": 3.0,
    "acd-transfer": 1.5,
    "acd-enter-account": 2.4,
    "acd-no-agents": 2.8,
    "queue-thankyou": 2.2,
    "queue-youarenext": 1.6,
    "queue-thereare": 1.0,
    "queue-callswaiting": 1.3,
    "queue-holdtime": 1.9,
    "queue-minutes": 0.8,
    "queue-minute": 0.7,
    "queue-seconds": 0.8,
    "queue-periodic-announce": 3.2,
    "queue-less-than": 0.8,
    "beep": 0.3,
    "silence/1": 1.0,
    "silence/2": 2.0,
    "silence/5": 5.0,
    "vm-goodbye": 0.9,
    "pls-hold-while-try": 2.6,
    "agent-loginok": 1.0,
    "tt-monkeys": 6.0,
    "conf-onlyperson": 2.4,
}
SOUNDS.update({f"digits/{n}": 0.75 for n in range(10)})
SOUNDS.update({"digits/1": 0.7, "digits/2": 0.7, "digits/3": 0.69, "digits/5": 0.81})
SOUNDS.update({f"digits/{n}": 0.8 for n in (*range(10, 21), 30, 40, 50, 60, 70, 80, 90)})
SOUNDS.update({"digits/hundred": 0.6, "digits/thousand": 0.7, "digits/star": 0.6,
               "digits/pound": 0.6, "digits/minus": 0.6})

TONE_SECONDS = 3600.0    # a `tone:` plays until stopped (DELETE /playbacks/{id})
DIGIT_SECONDS = 0.7      # one spoken digit (`digits:` / `number:`)
NEVER = -1.0             # an unknown scheme: PlaybackStarted and never PlaybackFinished


def media_length(uri: str, sounds: Mapping[str, float],
                 recordings: Mapping[str, float]) -> float | None:
    """Seconds `uri` plays, None when it fails at once, NEVER when it never ends."""
    scheme, sep, rest = uri.partition(":")
    if not sep:
        return NEVER
    if scheme == "sound":
        length = sounds.get(rest)
        lang, slash, name = rest.partition("/")
        if length is None and slash and 2 <= len(lang) <= 5 and lang[:2].isalpha():
            length = sounds.get(name)     # "sound:fr/acd-welcome" names its language
        return length
    if scheme == "recording":
        return recordings.get(rest)
    if scheme == "digits":
        return DIGIT_SECONDS * len(rest) if rest else None
    if scheme == "number":
        digits = rest.lstrip("-")
        return DIGIT_SECONDS * max(1, len(digits)) if digits.isdigit() else None
    if scheme == "characters":
        return 0.6 * len(rest) if rest else None
    if scheme == "tone":
        return TONE_SECONDS if rest else None
    return NEVER
