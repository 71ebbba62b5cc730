"""What a flow may never carry, whoever wrote it: names that read differently from
what they are, dialled numbers that are not digits, prompt names that climb out of
the sounds folder, transfer targets that smuggle a second dial string or options.

The same rules run twice: on the flow's text when it loads (file:line), and on
the interpolated value when a call uses it (a variable can hold anything).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from acd.ivr.model import Flow, TransferNode
from acd.ivr.problems import FlowError

PROMPT_FIELDS = ("prompt", "invalid_prompt", "timeout_prompt", "before", "after", "goodbye")

_FLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
_SOUND = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")
_MEDIA_SCHEMES = ("sound", "recording", "digits", "number", "characters", "tone")
_SPOKEN = re.compile(r"^[A-Za-z0-9 .,+#*-]{1,64}$")
_TONE = re.compile(r"^[A-Za-z0-9/!*#,.()+-]{1,128}$")
_ENDPOINT = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9_.+-]{1,64}(@[A-Za-z0-9_.-]{1,64})?$")
_EXTENSION = re.compile(r"^[A-Za-z0-9*#+_.-]{1,64}$")
_CONTEXT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_REF = re.compile(r"\$\{[^}]*\}")


def flow_name_problem(name: str) -> str | None:
    if _FLOW_NAME.match(name):
        return None
    return (f"flow name {name!r} must be 1 to 64 letters, digits, '_', '.' or '-' "
            "(no spaces, control or bidirectional characters)")


def number_problem(number: str) -> str | None:
    if _NUMBER.match(number):
        return None
    return (f"number {number!r} must be 1 to 32 ASCII digits, '*' or '#', "
            "optionally after a '+'")


def media_problem(media: str) -> str | None:
    """Why a media URI (as played) is refused, or None. `sound:`/`recording:` names stay
    inside the sounds folder: no '..', no leading '/', plain characters only."""
    scheme, sep, name = media.partition(":")
    if not sep or scheme not in _MEDIA_SCHEMES:
        return f"prompt {media!r} is not one of {', '.join(s + ':' for s in _MEDIA_SCHEMES)}"
    if scheme in ("sound", "recording"):
        if not _SOUND.match(name) or ".." in name.split("/"):
            return (f"prompt {media!r}: a sound name is letters, digits, '_', '-', '.' and "
                    "'/' between them, inside the sounds folder (no '..', no leading '/')")
    elif scheme == "tone":
        if not _TONE.match(name):
            return f"prompt {media!r} is not a tone list"
    elif not _SPOKEN.match(name):
        return f"prompt {media!r}: what is spoken is letters, digits and spaces (64 at most)"
    return None


def template_problem(value: str, check: re.Pattern[str], what: str) -> str | None:
    """Check a value that may hold `${...}`: the written parts must already be safe."""
    if check.match(_REF.sub("0", value)):
        return None
    return f"{what} {value!r} is not allowed: {_HELP[what]}"


_HELP = {
    "endpoint": "one TECH/resource[@host] (no '&', ',', spaces or dial options)",
    "extension": "letters, digits, '*', '#', '+', '_', '.' and '-' only",
    "number": "an optional '+' then digits, '*' or '#' only",
    "context": "letters, digits, '_', '.' and '-' only",
}
TRANSFER_RULES: dict[str, re.Pattern[str]] = {
    "endpoint": _ENDPOINT, "extension": _EXTENSION, "number": _NUMBER, "context": _CONTEXT,
}


def transfer_problem(kind: str, target: str) -> str | None:
    """Why a transfer target (after interpolation, at call time) is refused, or None."""
    rule = TRANSFER_RULES.get(kind)
    if rule is None or not rule.match(target):
        return f"transfer {kind} {target!r} refused: {_HELP.get(kind, 'unknown kind')}"
    return None


def prompts_of(flow: Flow) -> Iterator[tuple[str, tuple[str, ...], str]]:
    """(node id, path in the file, media) for every prompt a flow's nodes play."""
    for nid, node in flow.nodes.items():
        data = node.model_dump(by_alias=True)
        lists: list[tuple[tuple[str, ...], object]] = [((f,), data.get(f))
                                                        for f in PROMPT_FIELDS]
        if isinstance(data.get("announce"), dict):
            lists.append((("announce", "prompt"), data["announce"].get("prompt")))
        if isinstance(data.get("callback"), dict):
            lists.append((("callback", "offer"), data["callback"].get("offer")))
        for path, items in lists:
            if isinstance(items, list):
                for i, prompt in enumerate(items):
                    if isinstance(prompt, str):
                        yield nid, ("nodes", nid, *path, str(i)), prompt


def check(flow: Flow) -> list[FlowError]:
    """Prompt names and transfer targets, on the flow's text."""
    errors: list[FlowError] = []

    def err(path: tuple[str, ...], node: str, msg: str) -> None:
        m = flow.mark(*path)
        errors.append(FlowError(flow.source, m.line, m.column, node, msg))

    for nid, path, prompt in prompts_of(flow):
        why = media_problem(_REF.sub("x", prompt))
        if why is not None:
            err(path, nid, why)
    for nid, node in flow.nodes.items():
        if isinstance(node, TransferNode):
            for kind in ("endpoint", "extension", "number", "context"):
                value = getattr(node, kind)
                if value is not None:
                    why = template_problem(value, TRANSFER_RULES[kind], kind)
                    if why is not None:
                        err(("nodes", nid, kind), nid, why)
    return errors
