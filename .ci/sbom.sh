#!/usr/bin/env bash
# SBOM (CycloneDX JSON) of what ships, written as build artifacts (`make sbom`, part of `make test`):
#   build/sbom/python.cdx.json  the runtime Python dependencies pinned in uv.lock (no dev group)
#   build/sbom/web.cdx.json     the web app's npm dependencies from web/package-lock.json; build-only
#                               ones have scope "optional" and cdx:npm:package:development=true
#                               (npm's --omit dev also drops react, a peer of dev packages)
# Fails when a lock file does not match its manifest (uv export --locked) or a tool fails.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
OUT=${SBOM_DIR:-build/sbom}
mkdir -p "$OUT"
"$UV" export --locked --no-dev --no-emit-project --format requirements-txt --quiet -o "$OUT/requirements.txt"
PYTHONWARNINGS=ignore::UserWarning .venv/bin/cyclonedx-py requirements "$OUT/requirements.txt" \
  --pyproject pyproject.toml --of JSON --output-reproducible -o "$OUT/python.cdx.json"
(cd web && npm sbom --sbom-format cyclonedx --package-lock-only) > "$OUT/web.cdx.json"
.venv/bin/python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
for name in ("python.cdx.json", "web.cdx.json"):
    bom = json.loads((Path(sys.argv[1]) / name).read_text())
    assert bom["bomFormat"] == "CycloneDX" and bom["components"], f"{name}: not a CycloneDX SBOM with components"
    print(f"SBOM {sys.argv[1]}/{name}: CycloneDX {bom['specVersion']}, {len(bom['components'])} components")
PY
