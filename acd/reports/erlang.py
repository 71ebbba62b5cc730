"""Staffing: Erlang C (callers wait forever) and Erlang A (callers give up).

Pure functions, no I/O. Both rest on the Erlang B recursion
``B(0) = 1, B(k) = A·B(k-1) / (k + A·B(k-1))``, which never overflows (no
factorials, no powers) and stays within [0, 1]. Erlang C follows from B:
``C = N·B / (N - A·(1 - B))`` for N > A. When N <= A the queue grows without
bound: every caller waits (probability 1), the service level is 0, the ASA is
infinite and occupancy is 1; no figure ever exceeds 1 and nothing divides by zero.

Erlang A (M/M/N+M) adds exponential patience with mean ``patience`` seconds:
a stationary birth-death chain, stable at any load. Its service level is the
share of callers answered within the threshold, found by integrating the
backward equations of a tagged caller's progress through the queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Staffing", "agents_needed", "erlang_a", "erlang_b", "erlang_c", "staffing_c"]

MAX_AGENTS = 100_000
MAX_QUEUE = 50_000
MAX_PATIENCE_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Staffing:
    """What `agents` agents give at a load: P(wait), service level within
    `threshold_s`, ASA in seconds (inf when unbounded), occupancy, P(abandon)."""

    agents: int
    load_erlangs: float
    p_wait: float
    service_level: float
    asa_s: float
    occupancy: float
    p_abandon: float = 0.0

    def as_dict(self) -> dict[str, float | int | None]:
        return {"agents": self.agents, "load_erlangs": round(self.load_erlangs, 4),
                "p_wait": round(self.p_wait, 4), "service_level": round(self.service_level, 4),
                "asa_s": None if math.isinf(self.asa_s) else round(self.asa_s, 2),
                "occupancy": round(self.occupancy, 4), "p_abandon": round(self.p_abandon, 4)}


def _check(agents: int, load: float) -> None:
    if agents < 0 or agents > MAX_AGENTS:
        raise ValueError(f"agents must be 0..{MAX_AGENTS}, got {agents}")
    if not (load >= 0 and math.isfinite(load)):
        raise ValueError(f"the load must be a finite number of erlangs >= 0, got {load}")


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of `agents` servers offered `load` erlangs (iterative)."""
    _check(agents, load)
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(agents: int, load: float) -> float:
    """Probability that a caller waits (Erlang C); 1 when agents <= load."""
    _check(agents, load)
    if load == 0:
        return 0.0
    if agents <= load:
        return 1.0
    b = erlang_b(agents, load)
    return min(1.0, agents * b / (agents - load * (1 - b)))


def staffing_c(calls_per_hour: float, aht_s: float, agents: int,
               threshold_s: float) -> Staffing:
    """Erlang C figures for `agents` agents."""
    if calls_per_hour < 0 or aht_s <= 0:
        raise ValueError("calls per hour must be >= 0 and handle time > 0")
    load = calls_per_hour * aht_s / 3600
    _check(agents, load)
    if load == 0:
        return Staffing(agents, 0.0, 0.0, 1.0, 0.0, 0.0)
    if agents <= load:
        return Staffing(agents, load, 1.0, 0.0, math.inf, 1.0)
    pw = erlang_c(agents, load)
    sl = 1.0 - pw * math.exp(-(agents - load) * threshold_s / aht_s)
    asa = pw * aht_s / (agents - load)
    return Staffing(agents, load, pw, max(0.0, min(1.0, sl)), asa, load / agents)


def _tail_logs(agents: int, lam: float, mu: float, theta: float) -> list[float]:
    """log(pi(N+m)/pi(N)) for m = 1, 2, ... until negligible (Erlang A's queue)."""
    logs: list[float] = []
    log_term, peak, m = 0.0, 0.0, 0
    while m < MAX_QUEUE:
        m += 1
        log_term += math.log(lam / (agents * mu + m * theta))
        logs.append(log_term)
        peak = max(peak, log_term)
        if log_term < peak - 40 and agents * mu + m * theta > lam:
            break
    return logs


def _answered_within(agents: int, mu: float, theta: float, ahead: int,
                     t: float) -> list[float]:
    """u[k]: probability a caller with k callers ahead (k = 0..ahead) reaches an agent
    within t seconds before giving up. Backward equations, integrated with RK4:
    du_k/dt = r_k·(u_{k-1} - u_k) - theta·u_k, r_k = N·mu + k·theta, u_{-1} = 1."""
    if t <= 0:
        return [0.0] * (ahead + 1)
    rates = [agents * mu + k * theta for k in range(ahead + 1)]
    fastest = rates[-1] + theta
    steps = max(40, math.ceil(t * fastest / 0.5))
    h = t / steps
    u = [0.0] * (ahead + 1)

    def deriv(v: list[float]) -> list[float]:
        out = []
        prev = 1.0
        for k, vk in enumerate(v):
            out.append(rates[k] * (prev - vk) - theta * vk)
            prev = vk
        return out

    for _ in range(steps):
        k1 = deriv(u)
        k2 = deriv([a + h / 2 * b for a, b in zip(u, k1, strict=True)])
        k3 = deriv([a + h / 2 * b for a, b in zip(u, k2, strict=True)])
        k4 = deriv([a + h * b for a, b in zip(u, k3, strict=True)])
        u = [a + h / 6 * (b + 2 * c + 2 * d + e)
             for a, b, c, d, e in zip(u, k1, k2, k3, k4, strict=True)]
    return [max(0.0, min(1.0, x)) for x in u]


def erlang_a(calls_per_hour: float, aht_s: float, agents: int, threshold_s: float,
             patience_s: float) -> Staffing:
    """Erlang A figures: callers give up after an exponential patience of mean
    `patience_s`. The service level is the share of all callers answered within
    `threshold_s`; the ASA is the mean wait of the callers answered."""
    if calls_per_hour < 0 or aht_s <= 0 or not 0 < patience_s <= MAX_PATIENCE_S:
        raise ValueError("calls per hour must be >= 0, handle time > 0 and patience "
                         f"in (0, {MAX_PATIENCE_S:g}] seconds")
    lam, mu, theta = calls_per_hour / 3600, 1 / aht_s, 1 / patience_s
    load = lam / mu
    _check(agents, load)
    if load == 0:
        return Staffing(agents, 0.0, 0.0, 1.0, 0.0, 0.0)
    if agents == 0:
        return Staffing(0, load, 1.0, 0.0, math.inf, 1.0, 1.0)
    # Work in units of the largest state probability: nothing overflows.
    log_head = -math.log(erlang_b(agents, load))  # log(sum pi(j <= N) / pi(N))
    logs = _tail_logs(agents, lam, mu, theta)
    top = max(log_head, *logs)
    head, at_n = math.exp(log_head - top), math.exp(-top)
    terms = [math.exp(x - top) for x in logs]
    total = head + sum(terms)
    p_wait = (at_n + sum(terms)) / total
    queue_len = sum((m + 1) * t for m, t in enumerate(terms)) / total
    p_abandon = theta * queue_len / lam
    # Busy agents = answered load: occupancy drops as callers give up.
    occupancy = min(1.0, load * (1 - p_abandon) / agents)
    # Little: mean wait of all callers = E[queue] / lambda; ASA is per answered caller.
    served = 1 - p_abandon
    asa = (queue_len / lam) / served if served > 0 else math.inf
    ahead = len(terms)
    u = _answered_within(agents, mu, theta, ahead, threshold_s)
    # An arrival finding N+m in the system has m ahead of it (PASTA).
    sl = (head - at_n) / total  # found a free agent
    sl += at_n * u[0] / total
    for m, t in enumerate(terms):
        sl += t * u[m + 1] / total
    return Staffing(agents, load, min(1.0, p_wait), max(0.0, min(1.0, sl)), asa, occupancy,
                    max(0.0, min(1.0, p_abandon)))


def agents_needed(calls_per_hour: float, aht_s: float, target_sl: float, threshold_s: float,
                  target_asa_s: float | None = None,
                  patience_s: float | None = None) -> Staffing:
    """The fewest agents reaching the target service level (and ASA if given)."""
    if not 0 <= target_sl < 1:
        raise ValueError(f"the target service level must be in [0, 1), got {target_sl}")
    load = calls_per_hour * aht_s / 3600
    if load == 0:
        return Staffing(0, 0.0, 0.0, 1.0, 0.0, 0.0)

    def enough(s: Staffing) -> bool:
        return s.service_level >= target_sl and (target_asa_s is None
                                                 or s.asa_s <= target_asa_s)

    # Erlang B carried from one agent count to the next: the search is linear, not
    # quadratic, in the agents (an interval report asks this for every row).
    first = max(1, math.floor(load) + 1)
    b = erlang_b(first - 1, load)
    for n in range(first, MAX_AGENTS + 1):
        b = load * b / (n + load * b)
        pw = min(1.0, n * b / (n - load * (1 - b)))
        sl = 1.0 - pw * math.exp(-(n - load) * threshold_s / aht_s)
        c = Staffing(n, load, pw, max(0.0, min(1.0, sl)), pw * aht_s / (n - load), load / n)
        if enough(c):
            break
    else:
        raise ValueError("no staffing up to the agent limit reaches that target")
    if patience_s is None:
        return c
    # Callers who give up shorten the queue: Erlang A never needs more agents than
    # Erlang C, and its service level grows with the agents, so bisect below it.
    lo, hi = 0, n
    best = erlang_a(calls_per_hour, aht_s, hi, threshold_s, patience_s)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        s = erlang_a(calls_per_hour, aht_s, mid, threshold_s, patience_s)
        if enough(s):
            hi, best = mid, s
        else:
            lo = mid
    return best
