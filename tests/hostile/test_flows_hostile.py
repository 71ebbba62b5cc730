"""Hostile flow files and call inputs: each refused with its own message and file:line,
quickly, without expanding, recursing or matching for long; the folder judged file by file.

The configuration is the shipped one (config/acd.yaml), as `acd run` would read it.
"""

from __future__ import annotations

import asyncio
import gc
import re
import time
from pathlib import Path

import pytest

import acd.ivr.judge as judge_module
from acd.config import load_settings
from acd.ivr.catalog import FlowCatalog, catalog_from_settings
from acd.ivr.loader import check_flow, load_folder
from acd.ivr.pattern import full_match
from acd.ivr.pattern import problem as pattern_problem
from acd.ivr.registry import FlowRegistry
from acd.ivr.source import MAX_BYTES
from tests.hostile.flows import ATTACKS, Attack, deep, flow
from tests.ivr.driver import flow_of, trace

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "acd.yaml"
VALID = flow("  a: {type: hangup}\n")


@pytest.fixture(scope="module")
def catalog() -> FlowCatalog:
    return catalog_from_settings(load_settings(SHIPPED, env={}))


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_the_suite_has_distinct_attacks() -> None:
    assert len({a.id for a in ATTACKS}) == len(ATTACKS) >= 30
    assert len({a.text for a in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack_is_refused_with_file_and_line(attack: Attack, tmp_path: Path,
                                              catalog: FlowCatalog) -> None:
    path = write(tmp_path, "hostile.yaml", attack.text)
    started = time.process_time()  # CPU time: what the refusal costs, whatever the load
    flows, errors, _ = load_folder(tmp_path, settings={}, catalog=catalog)
    took = time.process_time() - started

    assert flows == {}
    assert errors, "refused"
    first = errors[0]
    assert (first.file, first.line) == (str(path), attack.line), [str(e) for e in errors]
    assert attack.message in str(first), str(first)
    assert str(first).startswith(f"{path}:{attack.line}:")
    assert "Traceback" not in str(first)
    assert took < 2.0, f"{attack.id} took {took:.2f} s of CPU to refuse"


def test_alias_bomb_is_refused_without_expanding(tmp_path: Path) -> None:
    from tests.hostile.flows import billion_laughs

    started = time.process_time()
    flow_, errors, _ = check_flow(write(tmp_path, "bomb.yaml", billion_laughs()))
    assert flow_ is None and "anchor '&a0'" in str(errors[0])
    assert time.process_time() - started < 0.1


def test_deep_nesting_gives_no_recursion_error(tmp_path: Path) -> None:
    path = write(tmp_path, "deep.yaml", deep(100_000))
    flow_, errors, _ = check_flow(path)
    assert flow_ is None
    (err,) = errors
    assert (err.line, err.column) == (6, 31) and "nested too deep" in err.message


def test_huge_file_is_refused_on_its_size_before_reading(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "huge.yaml", VALID + "# " + "x" * (6 * 1024 * 1024) + "\n")
    reads: list[Path] = []
    real = Path.read_bytes

    def spy(self: Path) -> bytes:
        reads.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", spy)
    reg = FlowRegistry(tmp_path, settings={})
    started = time.perf_counter()
    assert not reg.load()
    assert time.perf_counter() - started < 0.1
    (err,) = reg.errors
    assert err.file == str(path) and err.line == 1
    assert f"the file is too big: {path.stat().st_size:,} bytes (a flow file is at most " \
           f"{MAX_BYTES:,}" in err.message
    assert path not in reads


def test_subflow_cycle_across_two_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", flow("  a: {type: subflow, flow: b, next: c}\n  c: {type: hangup}\n",
                                   name="a", number="1"))
    write(tmp_path, "b.yaml", flow("  a:\n    type: subflow\n    flow: a\n    next: c\n"
                                   "  c: {type: hangup}\n", name="b", number="2"))
    flows, errors, _ = load_folder(tmp_path, settings={})
    assert flows == {}
    assert sorted((Path(e.file).name, e.line, e.message) for e in errors) == [
        ("a.yaml", 5, "subflow cycle: a -> b -> a (a flow may not call itself, directly or "
         "through others)"),
        ("b.yaml", 7, "subflow cycle: a -> b -> a (a flow may not call itself, directly or "
         "through others)"),
    ]


# ----------------------------------------------------------------- collect patterns


@pytest.mark.parametrize(("pattern", "why"), [
    ("^[0-9]{6,10}$", None),
    ("^(0[1-9]|1[0-2])[0-9]{2}$", None),
    ("^(1|11)+$", None),  # exponential for `re`, linear for RE2: accepted
    ("^(1+)+$", "nested quantifier"),
    ("((1{2}){3})+", "nested quantifier"),
    ("(?:1*2)*", "nested quantifier"),
    ("^(\\d)\\1$", "back-reference"),
    ("(?<=1)2", "look-ahead or look-behind"),
    ("[", "not a valid regular expression"),
    ("1" * 257, "too long"),
])
def test_pattern_check(pattern: str, why: str | None) -> None:
    found = pattern_problem(pattern)
    assert (found is None) if why is None else (found is not None and why in found), found


@pytest.mark.parametrize("pattern", ["^(1|11)+$", "^(11|1)*$"])
def test_matching_is_linear_even_for_backtracking_shapes(pattern: str) -> None:
    """Shapes the static check lets through still cannot stall: RE2 runs them."""
    digits = "1" * 64 + "*"
    started = time.perf_counter()
    assert not full_match(pattern, digits)
    assert full_match(pattern, "1" * 64)
    assert time.perf_counter() - started < 0.05
    # The same kind of input is already slow for Python's backtracking engine at 22.
    started = time.perf_counter()
    assert re.fullmatch(pattern, "1" * 22 + "*") is None
    assert time.perf_counter() - started > 0.001


def test_a_caller_keying_sixty_ones_into_a_backtracking_shape(tmp_path: Path) -> None:
    f = flow_of(flow("  a:\n    type: collect\n    prompt: acd-enter-order-number\n"
                     "    variable: x\n    max_digits: 64\n    terminator: '#'\n    retries: 0\n"
                     "    pattern: '^(1|11)+$'\n    next: b\n    on_invalid: b\n"
                     "  b: {type: hangup}\n"))
    started = time.perf_counter()
    actions, state = trace(f, ["done", *("1" * 60), "*", "#"])
    assert time.perf_counter() - started < 0.5
    assert "hangup normal" in actions[-1] and state.variables.get("x") is None


# ----------------------------------------------------------- values at call time


@pytest.mark.parametrize(("value", "expected"), [
    ("200", "transfer endpoint PJSIP/200"),
    ("200&PJSIP/201", "hangup normal"),
    ("200,30,tT", "hangup normal"),
    ("200 x", "hangup normal"),
])
def test_transfer_target_from_a_variable_is_checked_at_call_time(value: str,
                                                                 expected: str) -> None:
    f = flow_of(flow("  a: {type: set, variables: {ext: '" + value + "'}, next: t}\n"
                     "  t: {type: transfer, endpoint: 'PJSIP/${ext}'}\n"))
    actions, _ = trace(f, ["done"] if expected.startswith("hangup") else [])
    assert actions[-1] == expected, actions


@pytest.mark.parametrize(("value", "played"), [
    ("acd-welcome", ["play acd-welcome"]),
    ("../../../etc/passwd", []),
    ("/etc/shadow", []),
])
def test_prompt_from_a_variable_never_leaves_the_sounds_folder(value: str,
                                                               played: list[str]) -> None:
    f = flow_of(flow("  a: {type: set, variables: {p: '" + value + "'}, next: b}\n"
                     "  b: {type: play, prompt: 'sound:${p}', next: c}\n"
                     "  c: {type: hangup, prompt: []}\n"))
    actions, _ = trace(f, [])
    assert [a for a in actions if a.startswith("play")] == played


# -------------------------------------------------------- the folder, file by file


def test_one_deep_file_never_stops_another_files_edit(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", flow("  a: {type: hangup}\n", name="good", number="1"))
    reg = FlowRegistry(tmp_path, settings={})
    assert reg.load()
    before = reg.get("good")
    assert before is not None
    write(tmp_path, "deep.yaml", deep())
    good.write_text(flow("  a: {type: queue, queue: sales}\n", name="good", number="1"))

    assert not reg.load()
    after = reg.get("good")
    assert after is not None and after is not before and after.nodes["a"].type == "queue"
    (err,) = reg.errors
    assert Path(err.file).name == "deep.yaml" and "nested too deep" in err.message


def test_every_refused_file_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    by_id = {a.id: a for a in ATTACKS}
    names = ["yaml_alias_bomb", "redos_nested_plus", "transfer_second_dial_string"]
    for name in names:
        write(tmp_path, f"{name}.yaml", by_id[name].text)
    write(tmp_path, "ok.yaml", VALID)
    reg = FlowRegistry(tmp_path, settings={})
    assert not reg.load()
    assert set(reg.flows) == {"hostile"}
    assert sorted(Path(e.file).stem for e in reg.errors) == sorted(names)
    for name in names:
        assert any(f"{name}.yaml:{by_id[name].line}:" in r.getMessage()
                   for r in caplog.records), name
    assert any("flow files refused: " in r.getMessage() for r in caplog.records)


def test_a_refused_file_is_not_parsed_again_until_it_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = judge_module.check_flow

    def counting(path: str | Path, *args: object, **kw: object) -> object:
        checked.append(Path(path).name)
        return real(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(judge_module, "check_flow", counting)
    bomb = {a.id: a for a in ATTACKS}["yaml_alias_bomb"].text
    assert isinstance(bomb, str)
    path = write(tmp_path, "bomb.yaml", bomb)
    reg = FlowRegistry(tmp_path, settings={})
    for _ in range(3):
        assert not reg.load()
        assert len(reg.errors) == 1
    assert checked == ["bomb.yaml"]
    path.write_text(bomb)  # rewritten, same bytes: still not parsed again
    assert not reg.load() and checked == ["bomb.yaml"]
    path.write_text(bomb + "# changed\n")
    assert not reg.load() and checked == ["bomb.yaml", "bomb.yaml"]
    path.write_text(VALID)
    assert reg.load() and reg.get("hostile") is not None


async def test_loading_runs_off_the_event_loop(tmp_path: Path, catalog: FlowCatalog) -> None:
    """The heaviest file the limits allow, next to the attacks: the loop keeps ticking."""
    for a in ATTACKS:
        write(tmp_path, f"{a.id}.yaml", a.text)
    body = "".join(f"  n{i}: {{type: play, prompt: acd-welcome, next: n{i + 1}}}\n"
                   for i in range(998))
    write(tmp_path, "big.yaml", flow(f"  a: {{type: goto, target: n0}}\n{body}"
                                     "  n998: {type: hangup}\n", name="big", number="9"))
    reg = FlowRegistry(tmp_path, settings={}, catalog=catalog)
    await reg.load_async(in_process=True)  # the worker process is started (once)
    for path in tmp_path.glob("*.yaml"):  # every file changed, to be judged again
        with path.open("ab") as f:
            f.write(b"\n")
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    # As App.start does: what exists now is out of the collector's full passes (here,
    # pytest's own heap: a full pass over it stalls any loop, flows or not).
    gc.collect()
    gc.freeze()
    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    try:
        await reg.load_async()
    finally:
        gc.unfreeze()
    took = time.perf_counter() - started
    done.set()
    await tick
    reg.close()
    assert reg.get("big") is not None
    assert {Path(e.file).stem for e in reg.errors} >= {a.id for a in ATTACKS}
    assert len(gaps) > 10, f"the load took {took:.2f} s"
    print(f"load {took:.2f} s, longest loop gap {max(gaps) * 1000:.0f} ms")
    assert max(gaps) < 0.1, f"the loop stalled {max(gaps) * 1000:.0f} ms"


def test_validate_reports_a_deep_file_in_one_line(tmp_path: Path) -> None:
    import io

    from acd.ivr.cli import validate_cmd

    path = write(tmp_path, "deep.yaml", deep())
    out, err = io.StringIO(), io.StringIO()
    assert validate_cmd([str(path)], out, err, use_config=False) == 1
    assert err.getvalue() == (f"{path}:6:31: nested too deep: a flow file nests at most "
                              "24 levels\n")
    assert out.getvalue() == "0 flow(s) ok, 1 error(s), 0 warning(s)\n"
