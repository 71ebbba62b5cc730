"""A small, safe expression language for `switch` conditions.

    startswith(caller, "+33") and not (vip == "yes")
    weekday in ["sat", "sun"] or hour >= 18
    dialled != "100" and order_total > 250.5

Grammar (no eval, no attribute access, no calls but a fixed few):

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := value (("==" | "!=" | "<" | "<=" | ">" | ">=") value
                      | "in" list | "not" "in" list)?
    value   := STRING | NUMBER | "true" | "false" | NAME | NAME "(" args ")" | "(" expr ")"
    list    := "[" (literal ("," literal)*)? "]"

Names are looked up in the environment (flow variables and the call's built-ins),
all text; an unknown name is "". A comparison with a number literal is numeric
(text that is not a number then compares unequal); otherwise it is textual.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

MAX_LENGTH = 1000
MAX_DEPTH = 40

Value = str | float | bool


class ExprError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position + 1}")
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "str", "num", "name", "op", "end"
    text: str
    pos: int
    value: Value = ""


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<num>\d+(?:\.\d+)?)
      | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}
FUNCTIONS: dict[str, Callable[[str, str], bool]] = {
    "startswith": lambda a, b: a.startswith(b),
    "endswith": lambda a, b: a.endswith(b),
    "contains": lambda a, b: b in a,
}


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters", 0)
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExprError(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        raw = m.group()
        if kind == "num":
            out.append(Token("num", raw, pos, float(raw)))
        elif kind == "str":
            out.append(Token("str", raw, pos, re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif kind == "name":
            out.append(Token("kw" if raw in _KEYWORDS else "name", raw, pos, raw))
        elif kind == "op":
            out.append(Token("op", raw, pos, raw))
        pos = m.end()
    out.append(Token("end", "", len(text)))
    return out


# ------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Lit:
    value: Value


@dataclass(frozen=True, slots=True)
class Name:
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class In:
    needle: Expr
    items: tuple[Value, ...]
    negate: bool


Expr = Lit | Name | Call | Not | BoolOp | Compare | In


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def accept(self, kind: str, text: str) -> bool:
        if self.tok.kind == kind and self.tok.text == text:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, text: str) -> None:
        if not self.accept(kind, text):
            raise ExprError(f"expected '{text}' but found {self._found()}", self.tok.pos)

    def _found(self) -> str:
        return "the end" if self.tok.kind == "end" else repr(self.tok.text)

    def parse(self) -> Expr:
        e = self.or_()
        if self.tok.kind != "end":
            raise ExprError(f"unexpected {self._found()}", self.tok.pos)
        return e

    def or_(self) -> Expr:
        e = self.and_()
        while self.accept("kw", "or"):
            e = BoolOp("or", e, self.and_())
        return e

    def and_(self) -> Expr:
        e = self.not_()
        while self.accept("kw", "and"):
            e = BoolOp("and", e, self.not_())
        return e

    def not_(self) -> Expr:
        if self.accept("kw", "not"):
            self._enter()
            e = Not(self.not_())
            self.depth -= 1
            return e
        return self.cmp()

    def cmp(self) -> Expr:
        left = self.value()
        if self.tok.kind == "op" and self.tok.text in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take().text
            return Compare(op, left, self.value())
        if self.accept("kw", "in"):
            return In(left, self.list_(), False)
        if self.tok.kind == "kw" and self.tok.text == "not":
            self.take()
            self.expect("kw", "in")
            return In(left, self.list_(), True)
        return left

    def list_(self) -> tuple[Value, ...]:
        self.expect("op", "[")
        items: list[Value] = []
        if not self.accept("op", "]"):
            while True:
                items.append(self.literal())
                if self.accept("op", "]"):
                    break
                self.expect("op", ",")
        return tuple(items)

    def literal(self) -> Value:
        t = self.tok
        if t.kind in ("str", "num") or (t.kind == "kw" and t.text in ("true", "false")):
            self.take()
            return t.text == "true" if t.kind == "kw" else t.value
        raise ExprError(f"expected a text or number in the list, found {self._found()}", t.pos)

    def value(self) -> Expr:
        t = self.tok
        if t.kind in ("str", "num") or (t.kind == "kw" and t.text in ("true", "false")):
            return Lit(self.literal())
        if t.kind == "name":
            self.take()
            if self.accept("op", "("):
                return self.call(t)
            return Name(t.text)
        if self.accept("op", "("):
            self._enter()
            e = self.or_()
            self.expect("op", ")")
            self.depth -= 1
            return e
        raise ExprError(f"expected a value but found {self._found()}", t.pos)

    def call(self, name: Token) -> Expr:
        if name.text not in FUNCTIONS:
            raise ExprError(
                f"unknown function '{name.text}' (known: {', '.join(FUNCTIONS)})", name.pos
            )
        args: list[Expr] = [self.value()]
        while self.accept("op", ","):
            args.append(self.value())
        self.expect("op", ")")
        if len(args) != 2:
            raise ExprError(f"{name.text}() takes 2 arguments, got {len(args)}", name.pos)
        return Call(name.text, tuple(args))

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError("expression nested too deeply", self.tok.pos)


@lru_cache(maxsize=1024)
def parse(text: str) -> Expr:
    """Parse an expression; raises `ExprError` with the position of the problem."""
    return _Parser(tokenize(text)).parse()


def names(expr: Expr) -> set[str]:
    """Every variable name an expression reads."""
    if isinstance(expr, Name):
        return {expr.name}
    if isinstance(expr, Call):
        return set().union(*(names(a) for a in expr.args))
    if isinstance(expr, Not):
        return names(expr.operand)
    if isinstance(expr, BoolOp | Compare):
        return names(expr.left) | names(expr.right)
    if isinstance(expr, In):
        return names(expr.needle)
    return set()


# -------------------------------------------------------------------- evaluate


def _num(v: Value) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        return v
    try:
        return float(v)
    except ValueError:
        return None


def _text(v: Value) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else str(v)
    return v


def _compare(op: str, a: Value, b: Value) -> bool:
    left: float | str | None
    right: float | str | None
    if isinstance(a, bool) or isinstance(b, bool):
        left, right = _text(a), _text(b)
    elif isinstance(a, float) or isinstance(b, float):
        left, right = _num(a), _num(b)
        if left is None or right is None:
            return op == "!="
    else:
        left, right = a, b
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    ordered = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}  # type: ignore[operator]
    return ordered[op]


def _truthy(v: Value) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, float):
        return v != 0
    return v not in ("", "0", "false")


def evaluate(expr: Expr, env: Mapping[str, str]) -> Value:
    if isinstance(expr, Lit):
        return expr.value
    if isinstance(expr, Name):
        return env.get(expr.name, "")
    if isinstance(expr, Call):
        a, b = (_text(evaluate(x, env)) for x in expr.args)
        return FUNCTIONS[expr.func](a, b)
    if isinstance(expr, Not):
        return not _truthy(evaluate(expr.operand, env))
    if isinstance(expr, BoolOp):
        left = _truthy(evaluate(expr.left, env))
        if expr.op == "and":
            return left and _truthy(evaluate(expr.right, env))
        return left or _truthy(evaluate(expr.right, env))
    if isinstance(expr, Compare):
        return _compare(expr.op, evaluate(expr.left, env), evaluate(expr.right, env))
    needle = evaluate(expr.needle, env)
    found = any(_compare("==", needle, item) for item in expr.items)
    return found != expr.negate


def truth(text: str, env: Mapping[str, str]) -> bool:
    """Parse (cached) and evaluate `text` to a truth value."""
    return _truthy(evaluate(parse(text), env))
