#!/usr/bin/env bash
# The PR gate: validate scenarios (mode=validate) or validate then run them (mode=run), and report
# the way GitHub Actions reads it. The composite action (action.yml) is a thin wrapper around this
# script so that the logic can be run and tested outside GitHub.
#
# Inputs come from the environment (never interpolated into shell text, so a scenario path cannot
# inject commands):
#   CHAOS_GATE_SCENARIOS   files or directories, whitespace-separated (default: scenarios)
#   CHAOS_GATE_MODE        validate | run (default: validate)
#   CHAOS_GATE_CLUSTER     sim | kube (default: sim; run mode only)
#   CHAOS_GATE_CONTEXT     kubeconfig context for cluster=kube (optional)
#   CHAOS_GATE_STRICT      true | false: warnings fail validation too (default: false)
#   CHAOS_GATE_REPORT_DIR  where files go (default: chaos-reports)
#   CHAOS_GATE_EXTRA_ARGS  extra arguments for `chaos validate` / `chaos run`, whitespace-separated
#   CHAOS_GATE_CHAOS       how to invoke the tool (default: chaos), e.g. "python -m runner"
#   CHAOS_GATE_PYTHON      a Python to read report.json with (default: python3)
#   GITHUB_STEP_SUMMARY, GITHUB_OUTPUT: appended to when set (GitHub sets both).
#
# Writes into the report directory: validate-junit.xml, validate.json, validate-summary.md and, in
# run mode, one run directory per scenario (report.json, junit.xml, summary.md, journal, ...).
# Prints `::error file=...,line=...` annotations for every validation problem and every failed step.
# Outputs: verdict, exit-code, report-dir. Exits with a `chaos` exit code (DESIGN.md §6 "Exit codes":
# 0 passed, 1 failed, 2 invalid input, 3 inconclusive, 4 interrupted, 5 rollback incomplete). In run
# mode it is the highest over all scenarios, as §6 orders causes within one run (5 > 4 > 3 > 1, with
# 2 between 3 and 1): something left changed outranks everything, a failed assertion the least.
set -uo pipefail

scenarios="${CHAOS_GATE_SCENARIOS:-scenarios}"
mode="${CHAOS_GATE_MODE:-validate}"
cluster="${CHAOS_GATE_CLUSTER:-sim}"
context="${CHAOS_GATE_CONTEXT:-}"
strict="${CHAOS_GATE_STRICT:-false}"
report_dir="${CHAOS_GATE_REPORT_DIR:-chaos-reports}"
python="${CHAOS_GATE_PYTHON:-python3}"
read -r -a chaos <<<"${CHAOS_GATE_CHAOS:-chaos}"
read -r -a extra <<<"${CHAOS_GATE_EXTRA_ARGS:-}"
read -r -a paths <<<"$scenarios"

say() { printf 'chaos-gate: %s\n' "$*" >&2; }

# Append to a GitHub file when GitHub gave us one (locally these are unset and nothing is written).
summary_add() { [ -n "${GITHUB_STEP_SUMMARY:-}" ] && cat >>"$GITHUB_STEP_SUMMARY"; return 0; }
output_set() { [ -n "${GITHUB_OUTPUT:-}" ] && printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"; return 0; }

verdict_of() {
  case "$1" in
    0) echo passed ;; 1) echo failed ;; 2) echo invalid ;; 3) echo inconclusive ;;
    4) echo interrupted ;; 5) echo rollback-incomplete ;; *) echo error ;;
  esac
}

# How serious an exit code is, for picking the overall one in run mode (§6: the highest wins; an
# unknown code, say a crash, counts as 4: never below a failure, never hiding a 5).
rank_of() {
  case "$1" in
    0 | 1 | 2 | 3 | 4 | 5) echo "$1" ;; *) echo 4 ;;
  esac
}

finish() {
  local code="$1"
  output_set verdict "$(verdict_of "$code")"
  output_set exit-code "$code"
  output_set report-dir "$report_dir"
  say "verdict: $(verdict_of "$code") (exit $code)"
  exit "$code"
}

case "$mode" in validate | run) ;; *) say "mode must be validate or run (got '$mode')"; report_dir=""; finish 2 ;; esac
case "$cluster" in sim | kube) ;; *) say "cluster must be sim or kube (got '$cluster')"; report_dir=""; finish 2 ;; esac
case "$strict" in true | false) ;; *) say "strict must be true or false (got '$strict')"; report_dir=""; finish 2 ;; esac
if [ "${#paths[@]}" -eq 0 ]; then say "no scenarios given"; report_dir=""; finish 2; fi

if ! mkdir -p "$report_dir"; then say "cannot create report directory $report_dir"; report_dir=""; finish 2; fi

validate_args=()
[ "$strict" = true ] && validate_args+=(--strict)

# --- 1. validate (both modes): annotations to the log, JUnit + JSON + Markdown to files ---------
validate_extra=()
[ "$mode" = validate ] && validate_extra=("${extra[@]}")
"${chaos[@]}" validate "${validate_args[@]}" -o github --junit-file "$report_dir/validate-junit.xml" \
  "${validate_extra[@]}" "${paths[@]}"
validate_code=$?
"${chaos[@]}" validate "${validate_args[@]}" -o json "${validate_extra[@]}" "${paths[@]}" \
  >"$report_dir/validate.json"
"${chaos[@]}" validate "${validate_args[@]}" -o markdown "${validate_extra[@]}" "${paths[@]}" \
  >"$report_dir/validate-summary.md"
summary_add <"$report_dir/validate-summary.md"

if [ "$mode" = validate ] || [ "$validate_code" -ne 0 ]; then
  [ "$mode" = run ] && say "validation failed: not running anything"
  finish "$validate_code"
fi

# --- 2. run (mode=run): each valid scenario in its own run directory -----------------------------
# The files to run are the ones validate just read (same expansion: directories recursively,
# skipping manifests/), taken from its JSON so the two never disagree.
mapfile -t files < <("$python" -c 'import json,sys; [print(f["path"]) for f in json.load(open(sys.argv[1]))["files"]]' \
  "$report_dir/validate.json")

run_args=(--cluster "$cluster")
[ -n "$context" ] && run_args+=(--context "$context")

printf '\n### chaos run on %s\n\n| Scenario | Verdict | Exit |\n| --- | --- | ---: |\n' "$cluster" | summary_add
worst=0
for file in "${files[@]}"; do
  # the scenario's path, not just its name: a/xid79.yaml and b/xid79.yaml must not share a directory
  name="${file%.*}"; name="${name#./}"; name="${name//\//__}"
  run_dir="$report_dir/$name"
  say "running $file (run directory $run_dir)"
  "${chaos[@]}" run "${run_args[@]}" --report-dir "$run_dir" "${extra[@]}" "$file"
  code=$?
  printf '| `%s` | %s | %s |\n' "$file" "$(verdict_of "$code")" "$code" | summary_add
  # one annotation per step that did not pass, on the step's line in the scenario file
  if [ -f "$run_dir/report.json" ]; then
    "$python" - "$run_dir/report.json" "$file" <<'EOF'
import json, sys
report, scenario = json.load(open(sys.argv[1])), sys.argv[2]
def esc(text, prop=False):
    text = str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text
for step in report.get("steps", []):
    if step.get("status") in ("failed", "error", "interrupted"):
        where = f"file={esc(scenario, True)}" + (f",line={step['line']}" if step.get("line") else "")
        title = esc(f"chaos run: {step['name']} {step['status']}", True)
        print(f"::error {where},title={title}::{esc(step.get('message') or report.get('reason', ''))}")
if report.get("verdict") != "passed":
    print(f"::error file={esc(scenario, True)},title={esc('chaos run: ' + report['verdict'], True)}::"
          f"{esc(report.get('reason', ''))}")
EOF
  fi
  if [ -f "$run_dir/summary.md" ]; then
    { printf '\n'; cat "$run_dir/summary.md"; } | summary_add
  fi
  if [ "$(rank_of "$code")" -gt "$(rank_of "$worst")" ]; then worst="$code"; fi
done
finish "$worst"
