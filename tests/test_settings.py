"""Settings checks that span sections (acd/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import load_settings
from acd.errors import ConfigError


@pytest.mark.parametrize(("ring", "ttl", "ok"), [
    (25, 30, True),     # the defaults
    (26, 30, False),    # the reservation would lapse while the caller's phone rings
    (40, 60, True),
    (10, 10, False),
])
def test_callback_ring_fits_in_the_agents_reservation(tmp_path: Path, ring: int, ttl: int,
                                                      ok: bool) -> None:
    path = tmp_path / "acd.yaml"
    path.write_text(f"callbacks: {{ring_timeout: {ring}}}\nrouting: {{reservation_ttl: {ttl}}}\n")
    if ok:
        assert load_settings(path, env={}).callbacks.ring_timeout == ring
    else:
        with pytest.raises(ConfigError) as info:
            load_settings(path, env={})
        assert "callbacks.ring_timeout" in str(info.value)
        assert "acd.yaml" in str(info.value)
