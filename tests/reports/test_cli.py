"""`acd staffing`, `acd demo history` and `acd report` from the command line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from acd.__main__ import main
from acd.config import load_settings
from acd.errors import ConfigError


def test_staffing_prints_the_published_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staffing", "--calls-per-hour", "360", "--aht", "240",
                 "--target", "80/20"]) == 0
    out = capsys.readouterr().out
    assert "agents needed    29" in out and "84.0% within 20 s" in out
    assert "ASA              11.6 s" in out and "occupancy        82.8%" in out


def test_staffing_json_with_patience(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staffing", "--calls-per-hour", "200", "--aht", "180", "--patience", "60",
                 "--shrinkage", "0.3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "erlang_a" and 0 < out["p_abandon"] < 1
    assert out["scheduled"] > out["agents"]


@pytest.mark.parametrize("argv", [
    ["staffing", "--calls-per-hour", "100", "--aht", "180", "--target", "120/20"],
    ["staffing", "--calls-per-hour", "100", "--aht", "0"],
])
def test_staffing_refuses_bad_input(argv: list[str],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("acd: ")


def test_history_then_reports(report_dsn: str, monkeypatch: pytest.MonkeyPatch,
                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ACD_PG_DSN", report_dsn)
    empty = tmp_path / "empty.yaml"  # the defaults (a missing file is an error)
    empty.write_text("{}\n")
    monkeypatch.setenv("ACD_CONFIG", str(empty))
    assert main(["demo", "history", "--days", "3", "--calls-per-day", "300",
                 "--seed", "4"]) == 0
    assert "loaded" in capsys.readouterr().out
    assert main(["report", "queues", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["queue"] for r in rows} == {"sales", "support", "billing"}
    assert sum(r["entered"] for r in rows) > 300
    assert main(["report", "abandoned", "--csv"]) == 0
    listed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert listed and all(r["caller"].startswith("+33") for r in listed)
    assert main(["report", "intervals", "--queue", "sales", "--interval", "60"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["queue", "interval", "entered"] and len(table) > 10
    assert main(["report", "queues", "--from", "2026-02-30"]) == 2
    assert "not a date" in capsys.readouterr().err


@pytest.mark.parametrize(("yaml", "problem"), [
    ("reports: {timezone: Mars/Olympus}", "unknown time zone"),
    ("reports: {interval_minutes: 20}", "interval_minutes"),
    ("reports: {default: {abandon_policy: maybe}}", "abandon_policy"),
    ("reports: {shrinkage: 1.5}", "shrinkage"),
])
def test_bad_report_settings_are_refused(tmp_path: Path, yaml: str, problem: str) -> None:
    path = tmp_path / "acd.yaml"
    path.write_text(yaml)
    with pytest.raises(ConfigError, match=problem):
        load_settings(path, env={})
