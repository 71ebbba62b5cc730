"""What one complete run measures, in which order and for how long (pure data).

Every real-Asterisk run is one `python -m bench.asterisk` (own Asterisk, own acd);
the growth sections are `python -m bench`'s, called with the sizes below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Everything off: no event filter, asyncio's own loop, one application, acd answers
# the caller over ARI (no Answer() in the dialplan), one acd process.
BASELINE = ("--filter", "none", "--loop", "asyncio", "--apps", "1")


@dataclass(frozen=True)
class AsteriskRun:
    """One `python -m bench.asterisk` run: a name, its flags and its ladder."""

    name: str
    title: str
    flags: tuple[str, ...]
    rates: tuple[float, ...]
    seconds: float
    sides: tuple[str, ...] = ("acd",)
    max_wait: float = 10.0

    def argv(self, label: str) -> list[str]:
        return ["--rates", ",".join(f"{r:g}" for r in self.rates),
                "--seconds", f"{self.seconds:g}", "--sides", ",".join(self.sides),
                "--max-wait", f"{self.max_wait:g}", "--label", label, *self.flags]


def levers(rates: tuple[float, ...], seconds: float) -> tuple[AsteriskRun, ...]:
    """The baseline, then each lever on alone over the same rates (acd side only)."""
    def with_(*flags: str) -> tuple[str, ...]:
        out = list(BASELINE)
        for i in range(0, len(flags) - 1, 2):  # a baseline flag given again: replaced
            if flags[i] in out:
                out[out.index(flags[i]) + 1] = flags[i + 1]
            else:
                out += [flags[i], flags[i + 1]]
        if len(flags) % 2:
            out.append(flags[-1])
        return tuple(out)
    return (
        AsteriskRun("baseline", "baseline: no filter, asyncio, 1 app, acd answers over ARI",
                    BASELINE, rates, seconds),
        AsteriskRun("allow", "allow-list event filter", with_("--filter", "allow"),
                    rates, seconds),
        AsteriskRun("uvloop", "uvloop", with_("--loop", "uvloop"), rates, seconds),
        AsteriskRun("answer_first", "Answer() in the dialplan before Stasis()",
                    with_("--answer-first"), rates, seconds),
        AsteriskRun("apps2", "2 ARI applications, 1 acd process", with_("--apps", "2"),
                    rates, seconds),
        AsteriskRun("procs2", "2 acd processes (each its own application of 2)",
                    with_("--apps", "2", "--procs", "2"), rates, seconds),
    )


@dataclass(frozen=True)
class Plan:
    mode: str
    levers: tuple[AsteriskRun, ...]
    side_by_side: AsteriskRun
    scaleout: tuple[AsteriskRun, ...]
    scale_cases: tuple[tuple[int, int, int], ...]
    waiting_levels: tuple[int, ...]
    waiting_window: float
    waiting_timeout: float
    fullpath_rates: tuple[float, ...]
    fullpath2_rates: tuple[float, ...]
    sim_seconds: float
    profile_seconds: float
    # seconds at most to wait for a 1-min load <= 1.0 before a section: the run's own
    # previous section keeps it up (from 2 to 1 takes ~40 s on an idle box)
    settle: float
    groups: tuple[str, ...] = field(default=("levers", "side_by_side", "scaleout", "scale",
                                             "waiting", "fullpath", "fullpath2", "profile"))


def _plan(mode: str, ladder: tuple[float, ...], side: tuple[float, ...], seconds: float,
          side_seconds: float, **growth: object) -> Plan:
    return Plan(
        mode=mode, levers=levers(ladder, seconds),
        side_by_side=AsteriskRun("shipped", "shipped config, both sides", (), side,
                                 side_seconds, sides=("acd", "app_queue")),
        scaleout=(AsteriskRun("procs2", "2 acd processes, 2 applications",
                              ("--apps", "2", "--procs", "2"), ladder, seconds),
                  AsteriskRun("procs4", "4 acd processes, 4 applications",
                              ("--apps", "4", "--procs", "4"), ladder, seconds)),
        **growth)  # type: ignore[arg-type]


FULL = _plan("full", (20, 40, 60, 80), (10, 20, 40, 60, 80, 100, 120), 10.0, 15.0,
             scale_cases=((100, 10, 0), (1_000, 50, 0), (10_000, 200, 0),
                          (1_000, 50, 10), (1_000, 50, 1_000), (1_000, 50, 10_000)),
             waiting_levels=(10, 1_000, 10_000), waiting_window=30.0,
             waiting_timeout=360.0, fullpath_rates=(25, 50, 100, 200, 300, 400),
             fullpath2_rates=(50, 100, 200, 300, 400), sim_seconds=10.0,
             profile_seconds=10.0, settle=40.0)

QUICK = _plan("quick", (10,), (10, 20), 3.0, 3.0,
              scale_cases=((100, 10, 0), (1_000, 50, 10)),
              waiting_levels=(10, 200), waiting_window=5.0, waiting_timeout=120.0,
              fullpath_rates=(25,), fullpath2_rates=(25,), sim_seconds=3.0,
              profile_seconds=3.0, settle=0.0)

# Seconds, from a --quick run on the 2-core box at load 3-5 (each section's wall time
# is recorded beside its estimate): an Asterisk run's start and stop (Asterisk, the
# 180 agents' phone, acd) took 4-6 s, each side's warm-up 6.7 s and a step 3.7 s
# after its last new call; with a margin.
ASTERISK_FIXED, WARMUP_PER_SIDE, STEP_TAIL = 10.0, 8.0, 5.0


def asterisk_estimate(run: AsteriskRun) -> float:
    """Every rate of the ladder run, and one failing step per side that waits out
    its callers (an upper bound: a run stops at a side's first failed rate)."""
    sides = len(run.sides)
    return (ASTERISK_FIXED + sides * WARMUP_PER_SIDE
            + sides * len(run.rates) * (run.seconds + STEP_TAIL) + sides * run.max_wait)


def estimates(plan: Plan) -> dict[str, float]:
    """Section name -> seconds it may take at most (settling included)."""
    out: dict[str, float] = {}
    for run in plan.levers:
        out[f"levers/{run.name}"] = asterisk_estimate(run)
    out["side_by_side"] = asterisk_estimate(plan.side_by_side)
    for run in plan.scaleout:
        out[f"scaleout/{run.name}"] = asterisk_estimate(run)
    # one router per case: set-up (logins, backlog) plus 10 s of calls and the drain
    out["scale"] = sum(8 + a / 2_000 + w / 1_000 + 10 + 5 for a, _, w in plan.scale_cases)
    placing = max(plan.waiting_levels) / 80.0
    out["waiting"] = min(plan.waiting_timeout,
                         10 + placing + len(plan.waiting_levels) * (plan.waiting_window + 5))
    out["fullpath"] = 15 + len(plan.fullpath_rates) * (plan.sim_seconds + 3)
    out["fullpath2"] = 20 + len(plan.fullpath2_rates) * (plan.sim_seconds + 4)
    out["profile"] = 15 + plan.profile_seconds
    return {k: v + plan.settle + 2 for k, v in out.items()}  # + the 2 s CPU sample


def group_of(section: str) -> str:
    return section.split("/", 1)[0]
