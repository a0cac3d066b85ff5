#!/usr/bin/env bash
# Dependency audit (`make audit`, part of `make test`): known vulnerabilities in the locked
# dependencies - pip-audit over uv.lock (all groups, exported with hashes, nothing installed) and
# `npm audit --package-lock-only` over web/package-lock.json (high and critical findings fail).
#
# It never passes without having asked: a vulnerability service that cannot be reached, or a
# dependency it cannot look up, fails the step with a message saying so. Only an explicit
# DEPENDENCY_AUDIT=unavailable (set where the network is known to block the advisory services,
# see .ci/run) turns that failure into a loud "NOT AUDITED" notice; findings still fail.
set -uo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
OUT=build/audit
mkdir -p "$OUT"
failed=0
unreachable=()

"$UV" export --locked --all-groups --no-emit-project --format requirements-txt --quiet -o "$OUT/requirements.txt" || exit 1
# --strict: a dependency that could not be looked up fails the audit instead of being skipped.
.venv/bin/pip-audit --strict --disable-pip --requirement "$OUT/requirements.txt" --progress-spinner off \
  --format json --output "$OUT/pip-audit.json" >"$OUT/pip-audit.log" 2>&1
pip_status=$?
if [ $pip_status -ne 0 ]; then
  if grep -qiE 'not found on PyPI|could not be audited|Connection|resolve host|timed out|Max retries|HTTPError' "$OUT/pip-audit.log"; then
    unreachable+=("Python: pip-audit could not query the PyPI vulnerability service ($(grep -v '^\s*$' "$OUT/pip-audit.log" | tail -n1 | cut -c1-200))")
  else
    echo "dependency audit FAILED: pip-audit reports vulnerable Python dependencies:" >&2
    cat "$OUT/pip-audit.log" >&2
    failed=1
  fi
else
  echo "dependency audit: Python dependencies of uv.lock - no known vulnerabilities"
fi

(cd web && npm audit --package-lock-only --audit-level=high --json) >"$OUT/npm-audit.json" 2>"$OUT/npm-audit.log"
npm_status=$?
verdict=$(.venv/bin/python - "$OUT/npm-audit.json" <<'PY'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except ValueError:
    print("unreachable no JSON answer"); sys.exit()
if "error" in report or "statusCode" in report:
    print("unreachable", report.get("message") or report.get("error", {}).get("summary", "audit endpoint error"))
else:
    counts = report.get("metadata", {}).get("vulnerabilities", {})
    print("counts", " ".join(f"{k}={v}" for k, v in counts.items()))
PY
)
case "$verdict" in
  unreachable*)
    unreachable+=("web: npm audit could not query the registry's advisory service (${verdict#unreachable })") ;;
  *)
    if [ $npm_status -ne 0 ]; then
      echo "dependency audit FAILED: npm audit reports high or critical findings in web/ (${verdict#counts }):" >&2
      (cd web && npm audit --package-lock-only --audit-level=high) >&2
      failed=1
    else
      echo "dependency audit: web/package-lock.json - nothing high or critical (${verdict#counts })"
    fi ;;
esac

if [ ${#unreachable[@]} -gt 0 ]; then
  for reason in "${unreachable[@]}"; do echo "dependency audit: $reason" >&2; done
  if [ "${DEPENDENCY_AUDIT:-}" = unavailable ]; then
    echo "**********************************************************************" >&2
    echo "* DEPENDENCY AUDIT NOT PERFORMED: the vulnerability services cannot   *" >&2
    echo "* be reached and DEPENDENCY_AUDIT=unavailable accepts that. The locks *" >&2
    echo "* are NOT audited by this run.                                         *" >&2
    echo "**********************************************************************" >&2
  else
    echo "dependency audit FAILED: the vulnerability services could not be reached, so nothing was audited" >&2
    echo "(run where PyPI's JSON API and the npm registry's audit endpoint are reachable)" >&2
    failed=1
  fi
fi
exit $failed
