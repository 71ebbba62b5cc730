"""Values the caller keys in that must never be seen in clear outside the engine.

A masked `collect` (a card number, a PIN) keeps its digits in a `Secret`. Its
`repr()`, `str()` and `format()` show only the mask, it refuses to be pickled
(so it cannot slip into Redis by accident) and `json.dumps` rejects it unless
the caller passes `json_default`, which the runner uses for exactly one thing:
the body of the HTTP request that hands the value to a payment service.
"""

from __future__ import annotations

from typing import NoReturn


def mask(value: str, keep: int = 4) -> str:
    """`"4111111111111111"` -> `"************1111"`; short values are masked entirely."""
    if len(value) < 2 * keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


class Secret:
    """An immutable string that only `reveal()` gives back in clear."""

    __slots__ = ("_value",)

    _value: str

    def __init__(self, value: str = "") -> None:
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def reveal(self) -> str:
        """The clear value. Call it only where the value leaves for its one purpose."""
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    def plus(self, text: str) -> Secret:
        return Secret(self._value + text)

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: object) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or serialised")


def json_default(obj: object) -> object:
    """`json.dumps(body, default=json_default)`: reveals `Secret`s, rejects anything else."""
    if isinstance(obj, Secret):
        return obj.reveal()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
