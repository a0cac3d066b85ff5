"""The mixed load test (bench/load, issue 15) cannot rot: a short run of the real runner.

`python -m bench.load` with a few users for a few seconds against the real processes (embedded
PostgreSQL, `servanda api --workers 2`, `servanda worker` with LibreOffice) must finish without a
single failed request or task error, and every user class must have issued requests. No timing
is asserted (the machine is shared); the 10-minute run with its figures is `make bench-load`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.load.mix import MIX

ROOT = Path(__file__).resolve().parents[1]


def test_short_mixed_load_run_has_no_errors_and_drives_every_user_class(tmp_path: Path) -> None:
    output = tmp_path / "load.json"
    command = [
        sys.executable,
        "-m",
        "bench.load",
        *("--users", "10", "--spawn-rate", "10", "--duration", "15s"),
        *("--tenants", "2", "--contracts", "200", "--audit-events", "2000"),
        *("--output", str(output)),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    results = json.loads(output.read_text())
    totals = results["totals"]
    assert totals["errors"] == 0, (totals["failures"], totals["user_errors"])
    assert set(results["users"]) == set(MIX)
    by_class = totals["by_class"]
    assert {name for name, counts in by_class.items() if counts.get("requests", 0) > 0} == set(MIX), by_class
    operations = {row["operation"] for row in results["operations"] if row["requests"] + row["ramp_requests"]}
    assert {"contract: create", "contract: autosave", "export: request", "audit: page"} <= operations
    assert not results["restarted_processes"]


def test_cpu_over_the_window_counts_processes_that_come_and_go() -> None:
    """A recycled LibreOffice: the one at the start ends, a new one takes over. Its CPU is the old
    one's use up to its last sample plus the new one's in full (subtracting sums went negative)."""
    from bench.load.__main__ import _cpu_over

    role = "LibreOffice"
    samples = [
        (0.0, {role: {"cpu_by_pid": {10: 50.0}}}),
        (5.0, {role: {"cpu_by_pid": {10: 52.0}}}),
        (10.0, {role: {"cpu_by_pid": {11: 1.5}}}),
        (15.0, {role: {"cpu_by_pid": {11: 3.0}}}),
    ]
    assert _cpu_over(samples, role) == 2.0 + 3.0
