"""config/asterisk/make-prompts.sh generates every prompt acd can play on a real Asterisk:
the engine's defaults, the shipped flows, the announcements and spoken numbers, and
what the dialplan plays when acd is away."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import wave
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

from acd import config as acd_config
from acd.ivr import nodes, runtime, say
from acd.ivr.loader import read_sounds

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "config" / "asterisk" / "make-prompts.sh"
SOUND = re.compile(r"sound:([A-Za-z0-9_/.-]+)")


def generated() -> set[str]:
    out = subprocess.run(["sh", str(SCRIPT), "--list"], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def _sounds_in(value: object) -> set[str]:
    return set(SOUND.findall(repr(value)))


def engine_defaults() -> set[str]:
    found = _sounds_in([nodes.GOODBYE, nodes.INVALID, runtime.ERROR_PROMPT])
    models = [m for _, m in inspect.getmembers(nodes, inspect.isclass)
              if issubclass(m, BaseModel)]
    models += [acd_config.CallbackSettings]
    for model in models:
        for field in model.model_fields.values():
            if field.default_factory is not None:
                found |= _sounds_in(field.default_factory())  # type: ignore[call-arg]
            else:
                found |= _sounds_in(field.default)
    return found


def shipped_flows() -> set[str]:
    found = {s.removeprefix("sound:") for s in read_sounds(REPO / "ivr_flows" / "sounds.txt")}
    for f in (REPO / "ivr_flows").glob("*.yaml"):
        found |= set(SOUND.findall(f.read_text()))
    return found


def announcements() -> set[str]:
    said: list[str] = []
    for n in [*range(-5, 1200), 20_000, 999_999, 1_234_567, 21_000_000]:
        said += say.number(n)
    for n in range(1, 32):
        said += say.ordinal(n)
    said += say.digits("0123456789*#-+abcdefghijklmnopqrstuvwxyzABCXYZ")
    for s in [0, 1, 2, 59, 60, 61, 125, 3600, 3661, 7322, 86399]:
        said += say.duration(s)
    day = date(2026, 1, 1)
    for i in range(366):
        said += say.spoken_date(day + timedelta(days=i))
    for pos in range(1, 120):
        said += say.queue_position(pos)
    for wait in [0, 10, 59, 60, 61, 300, 3599, 7200]:
        said += say.queue_wait(wait)
    now = datetime(2026, 3, 3, 12, 0)
    for value, kind in [("42", "number"), ("90061", "duration"), ("2026-12-25", "date"),
                        ("today", "date"), ("12345678901234567890", "number")]:
        said += say.say_prompts(value, kind, now)
    return {s.removeprefix("sound:") for s in said}


def dialplan() -> set[str]:
    text = (REPO / "config" / "asterisk" / "extensions.conf").read_text()
    names = set(re.findall(r"Playback\(([A-Za-z0-9_/-]+)", text))
    names |= set(re.findall(r"Read\([A-Z_]+,([A-Za-z0-9_/-]+)", text))
    return names


@pytest.mark.parametrize("source", [engine_defaults, shipped_flows, announcements, dialplan])
def test_every_prompt_is_generated(source: object) -> None:
    assert callable(source)
    needed = source()
    assert len(needed) >= 3  # the source was read (not an empty set by mistake)
    missing = needed - generated()
    assert not missing, f"make-prompts.sh does not generate: {sorted(missing)}"


def test_sources_hold_what_they_should() -> None:
    assert {"acd-goodbye", "acd-invalid", "acd-error", "acd-callback-offer",
            "acd-leave-message", "acd-callback-connecting"} <= engine_defaults()
    assert {"queue-youarenext", "queue-holdtime", "digits/hundred", "digits/h-30",
            "letters/z", "digits/mon-11"} <= announcements()
    assert {"queue-thankyou", "vm-goodbye", "beep"} <= dialplan()


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")),
                    reason="espeak-ng and sox are not installed")
def test_the_script_writes_8khz_mono_wavs(tmp_path: Path) -> None:
    sounds, moh = tmp_path / "sounds" / "en", tmp_path / "moh"
    proc = subprocess.run(["sh", str(SCRIPT), str(sounds), str(moh)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in sorted(generated()):
        path = sounds / f"{name}.wav"
        assert path.is_file(), name
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert w.getnframes() > 800, name  # at least 0.1 s of sound
    assert (moh / "tone.wav").is_file()
    # Run again: nothing is regenerated.
    again = subprocess.run(["sh", str(SCRIPT), str(sounds), str(moh)], capture_output=True,
                           text=True, timeout=60)
    assert "make-prompts: 0 prompt(s) generated" in again.stdout
