#!/usr/bin/env bash
# End-to-end benchmarks of issue 7 (docs/performance.md): s3plan against the sandbox over HTTP, side by side
# with the AWS CLI and a boto3 thread pool, close to the API's limits, and at 100,000 jobs.
#
# Usage: scripts/bench-e2e.sh [peers|limits|scale|validate|cpu|saved|fanout|scale1m|all] [--jobs N] [--cli-jobs N] [--cpu-runs N]
# (scale1m: 1,000,000 jobs selected and cancelled, the sandbox seeded with them; --scale1m-jobs N)
# Builds s3plan --release, installs awscli + boto3 from PyPI into target/bench-venv (peers only), and runs
# scripts/bench_e2e.py, which starts `s3plan sandbox` subprocesses and prints the figures.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
section="${1:-all}"
cargo build --release --bin s3plan >&2
python=python3
if [[ "$section" == peers || "$section" == all ]]; then
  venv="$root/target/bench-venv"
  if [[ ! -x "$venv/bin/aws" ]]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check awscli boto3 >&2
  fi
  python="$venv/bin/python"
fi
# cpu (§4, CPU per call beside the boto3 pool): needs boto3 only, in the same venv.
if [[ "$section" == cpu ]]; then
  venv="$root/target/bench-venv"
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import boto3' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check boto3 >&2
  fi
  python="$venv/bin/python"
fi
exec "$python" "$root/scripts/bench_e2e.py" --bin "$root/target/release/s3plan" "$@"
