"""The call machine's phases, one module each (see acd.calls.machine)."""
