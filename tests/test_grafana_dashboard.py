"""The Grafana dashboard in docker/ charts only series acd exports, and all of them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import acd.metrics  # noqa: F401 - registers acd's series

DASHBOARD = Path(__file__).parent.parent / "docker" / "grafana-dashboard.json"
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def test_dashboard_charts_every_acd_series_and_nothing_else() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"\bacd_[a-z_]+", e)}
    families = {m.name: m.type for m in REGISTRY.collect() if m.name.startswith("acd_")}
    series = {name + suffix: name for name, kind in families.items()
              for suffix in SUFFIXES[kind]}
    assert used <= set(series), f"charted but not exported: {used - set(series)}"
    charted = {series[u] for u in used}
    assert charted == set(families), f"exported but not charted: {set(families) - charted}"
