"""The web app's API types (web/src/api/schema.d.ts) are generated from the OpenAPI document and must
match it: regenerate them the way `npm run gen:api` does, into a temporary file, and compare.

A stale file means the client was built against another API: run `cd web && npm run gen:api`.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
SCHEMA = WEB / "src" / "api" / "schema.d.ts"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"


@pytest.mark.skipif(not GENERATOR.exists(), reason="web dependencies not installed (make install)")
def test_the_generated_api_types_are_current(tmp_path: Path) -> None:
    document = subprocess.run(
        [sys.executable, "-m", "servanda", "openapi"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    (tmp_path / "openapi.json").write_text(document, encoding="utf-8")
    subprocess.run(
        [str(GENERATOR), str(tmp_path / "openapi.json"), "-o", str(tmp_path / "schema.d.ts")],
        capture_output=True,
        check=True,
        cwd=WEB,  # the project's openapi-typescript and its configuration
    )
    expected = (tmp_path / "schema.d.ts").read_text(encoding="utf-8")
    actual = SCHEMA.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    actual.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    "web/src/api/schema.d.ts (committed)",
                    "generated from servanda openapi",
                )
            )[:60]
        )
        pytest.fail(f"web/src/api/schema.d.ts is stale: run `cd web && npm run gen:api`\n{diff}")
