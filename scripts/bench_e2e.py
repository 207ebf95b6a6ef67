#!/usr/bin/env python3
"""End-to-end benchmarks of issue 7: s3plan over HTTP against `s3plan sandbox` subprocesses.

Owns only measurement: it starts sandboxes, seeds jobs with `generate:` batches, runs s3plan (and, for
`peers`, the AWS CLI and a boto3 thread pool), reads the sandbox's admin API (`/_sandbox/audit`,
`/_sandbox/calls`, `/_sandbox/jobs/...`) and prints figures. It judges nothing in s3plan itself beyond
checking that every job ended where the plan said. Run it through `scripts/bench-e2e.sh`, which builds the
release binary and the Python venv first. Standard library only (boto3 runs in its own subprocess).

Sections: peers (§1), limits (§2: rate, throttle, wait, resolve), scale (§3), validate (§3), cpu (§4), saved
(saved plans re-check by sweep), fanout (many targets), scale1m (1,000,000 jobs: memory that does not grow with
finished jobs), all.
"""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ACCOUNT = "111122223333"
CREDS = {
    "AWS_ACCESS_KEY_ID": "AKIDBENCH",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}, {os.uname().sysname} {os.uname().release}"


def parse_ts(text):
    """RFC 3339 (any fraction digits, Z or offset) to seconds since the epoch."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        raise ValueError(f"not a timestamp: {text!r}")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    base = datetime.datetime.fromisoformat(m.group(1) + zone).timestamp()
    return base + (float(m.group(2)) if m.group(2) else 0.0)


def env(extra=None):
    e = dict(os.environ)
    e.update(CREDS)
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "RUST_LOG"):
        e.pop(k, None)
    if extra:
        e.update(extra)
    return e


def run_measured(cmd, stdout=None, stderr=None, extra_env=None):
    """Runs cmd, returns (exit code, wall s, cpu s of it and its waited children, peak RSS KiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout or subprocess.DEVNULL, stderr=stderr or subprocess.DEVNULL,
                            env=env(extra_env))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


class Sandbox:
    """An `s3plan sandbox --port 0` subprocess."""

    def __init__(self, binary, workdir, seed, args=()):
        path = os.path.join(workdir, f"seed-{time.monotonic_ns()}.yaml")
        with open(path, "w") as f:
            f.write(seed)
        self.log = open(os.path.join(workdir, "sandbox.log"), "a")
        self.proc = subprocess.Popen([binary, "sandbox", "--port", "0", "--seed", path, *args],
                                     stdout=subprocess.PIPE, stderr=self.log, env=env(), text=True)
        first = self.proc.stdout.readline().strip()
        if not first.startswith("listening on "):
            raise SystemExit(f"sandbox did not start: {first!r}")
        self.url = first.split()[-1]

    def get(self, path):
        with urllib.request.urlopen(self.url + "/_sandbox/" + path, timeout=600) as r:
            return json.loads(r.read())

    def audit(self, op="UpdateJobStatus"):
        return self.get(f"audit?operation={op}")

    def calls(self):
        return self.get("calls")

    def stop(self):
        """Stops the sandbox; returns its CPU seconds."""
        self.proc.terminate()
        _, _, usage = os.wait4(self.proc.pid, 0)
        self.log.close()
        return usage.ru_utime + usage.ru_stime


def seed_doc(batches, start_time=None):
    lines = ["random_seed: 7"]
    if start_time:
        lines.append(f"start_time: {start_time}")
    lines += ["accounts:", f'  - id: "{ACCOUNT}"', "    generate:"]
    for b in batches:
        lines.append(f"      - count: {b['count']}")
        lines.append(f"        id_prefix: {b['prefix']}")
        lines.append(f"        description_prefix: {b.get('description', b['prefix'])}")
        lines.append(f"        job: {json.dumps(b.get('job', {'status': 'Suspended'}))}")
    return "\n".join(lines) + "\n"


def plan_doc(entry, concurrency=256, rate=10000, poll_rate=10000):
    return (
        "version: 1\n"
        f'account_id: "{ACCOUNT}"\n'
        "region: us-east-1\n"
        'reason: "benchmark"\n'
        f"limits: {{concurrency: {concurrency}, rate_limit: {rate}, poll_rate_limit: {poll_rate}}}\n"
        "jobs:\n" + entry
    )


def run_s3plan(binary, workdir, sandbox, name, entry, extra=(), **limits):
    plan = os.path.join(workdir, f"{name}.yaml")
    with open(plan, "w") as f:
        f.write(plan_doc(entry, **limits))
    report = os.path.join(workdir, f"{name}-report.json")
    with open(os.path.join(workdir, f"{name}.stderr"), "w") as err:
        code, wall, cpu, rss = run_measured(
            [binary, "apply", plan, "--endpoint-url", sandbox.url, "--yes", "--report", report, *extra],
            stderr=err)
    if code != 0:
        with open(os.path.join(workdir, f"{name}.stderr")) as err:
            sys.stderr.write(err.read()[-3000:])
        raise SystemExit(f"s3plan {name} exited {code}")
    sizes = {p: os.path.getsize(p) for p in (report, report + ".journal.jsonl") if os.path.exists(p)}
    return {"wall": wall, "cpu": cpu, "rss_kib": rss, "report": report, "sizes": sizes}


def span(entries):
    times = sorted(parse_ts(e["time"]) for e in entries)
    return (times[-1] - times[0]) if len(times) > 1 else 0.0, times


def max_window(times, width=1.0):
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


def only(entries, prefix):
    return [e for e in entries if (e.get("job_id") or "").startswith(prefix)]


def verdict(ok):
    return "MET" if ok else "MISSED"


# §1 ------------------------------------------------------------------------------------------------------

def peers(a, workdir):
    n, cli_n = a.jobs, a.cli_jobs
    print(f"== peers: {n} cancels each for boto3 and s3plan, {cli_n} for the AWS CLI loop ({load()})")
    sb = Sandbox(a.bin, workdir, seed_doc([
        {"count": cli_n, "prefix": "cli-"},
        {"count": n, "prefix": "boto-"},
        {"count": n, "prefix": "s3p-"},
    ]))
    venv_bin = os.path.dirname(sys.executable)
    proxy = {"HTTP_PROXY": sb.url, "NO_PROXY": "", "no_proxy": ""}
    results = {}

    ids = os.path.join(workdir, "cli-ids.txt")
    with open(ids, "w") as f:
        f.write("\n".join(f"cli-{i:05}" for i in range(1, cli_n + 1)) + "\n")
    loop = (f'while read id; do "{venv_bin}/aws" s3control update-job-status --endpoint-url {sb.url} '
            f'--account-id {ACCOUNT} --job-id "$id" --requested-job-status Cancelled '
            f'--status-update-reason benchmark >/dev/null || echo "failed $id" >&2; done < {ids}')
    code, wall, cpu, _ = run_measured(["bash", "-c", loop], extra_env=proxy)
    results["aws cli loop"] = (cli_n, wall, cpu, only(sb.audit(), "cli-"))

    ids = os.path.join(workdir, "boto-ids.txt")
    with open(ids, "w") as f:
        f.write("\n".join(f"boto-{i:05}" for i in range(1, n + 1)) + "\n")
    code, wall, cpu, _ = run_measured(
        [sys.executable, os.path.join(HERE, "bench_boto3_cancel.py"), sb.url, ACCOUNT, ids, "32"],
        stderr=None, extra_env=proxy)
    if code != 0:
        raise SystemExit(f"boto3 script exited {code}")
    results["boto3 pool(32)"] = (n, wall, cpu, only(sb.audit(), "boto-"))

    r = run_s3plan(a.bin, workdir, sb, "peers-s3plan",
                   "  - name: cancel\n"
                   "    select: {status: [Suspended], description: \"s3p-*\"}\n"
                   f"    max_jobs: {n}\n"
                   "    set: Cancelled\n", concurrency=a.concurrency)
    results["s3plan"] = (n, r["wall"], r["cpu"], only(sb.audit(), "s3p-"))
    calls = sb.calls()
    sb_cpu = sb.stop()

    print(f"{'tool':16} {'jobs':>6} {'ok':>6} {'wall s':>8} {'jobs/s':>9} {'call-span/s':>12} {'cpu ms/job':>11}")
    rates = {}
    for tool, (count, wall, cpu, audit) in results.items():
        ok = sum(1 for e in audit if e["outcome"] == "ok")
        s, _ = span(audit)
        rates[tool] = (count / wall, ok / s if s > 0 else float("nan"))
        print(f"{tool:16} {count:>6} {ok:>6} {wall:>8.2f} {count / wall:>9.0f} {rates[tool][1]:>12.0f} "
              f"{cpu * 1000 / count:>11.3f}")
        if ok != count:
            print(f"  !! {tool}: {count - ok} jobs not cancelled")
    mine = rates["s3plan"]
    for tool in ("boto3 pool(32)", "aws cli loop"):
        print(f"s3plan / {tool}: {mine[0] / rates[tool][0]:.1f}x (process wall), "
              f"{mine[1] / rates[tool][1]:.1f}x (first to last call)")
    print(f"sandbox cpu {sb_cpu:.2f} s for {sum(calls.values())} calls; {load()}")
    print(f"target s3plan >= 10x boto3 pool (process wall): {verdict(mine[0] / rates['boto3 pool(32)'][0] >= 10)}")
    print(f"target s3plan >= 5000 cancels/s (process wall {mine[0]:.0f}/s): {verdict(mine[0] >= 5000)}")


# §2 ------------------------------------------------------------------------------------------------------

def rate_fidelity(a, workdir):
    n, rate = 2000, 200
    print(f"== rate fidelity: {n} cancels at rate_limit {rate}, unthrottled sandbox ({load()})")
    sb = Sandbox(a.bin, workdir, seed_doc([{"count": n, "prefix": "rate-"}]))
    r = run_s3plan(a.bin, workdir, sb, "rate", "  - name: cancel\n"
                   "    select: {status: [Suspended], description: \"rate-*\"}\n"
                   f"    max_jobs: {n}\n    set: Cancelled\n", concurrency=64, rate=rate)
    audit = sb.audit()
    sb.stop()
    s, times = span(audit)
    ideal = n / rate
    # N calls paced at `rate` start 1/rate apart: the run's calls cover (N-1)/rate + one interval.
    paced = s + 1.0 / rate
    window = max_window(times)
    burst = -(-rate // 10)
    print(f"calls {len(audit)}, ok {sum(e['outcome'] == 'ok' for e in audit)}")
    print(f"first to last call {s:.3f} s (+1/rate = {paced:.3f} s), ideal {ideal:.2f} s: {paced / ideal:.3f}x")
    print(f"process wall {r['wall']:.2f} s (includes start, resolution, report): {r['wall'] / ideal:.3f}x")
    print(f"max calls in any 1-s window: {window} (limit rate + burst = {rate + burst})")
    print(f"target wall <= 1.05x ideal (calls): {verdict(paced <= 1.05 * ideal)}; "
          f"(process): {verdict(r['wall'] <= 1.05 * ideal)}")
    print(f"target no window above rate+burst: {verdict(window <= rate + burst)}")


def waiting(a, workdir):
    batches, per, speed, poll = 50, 100, 6.0, 2.0
    n = batches * per
    print(f"== waiting: {n} jobs gated on their own status (Suspended), reaching it over ~3.4 simulated "
          f"minutes, sandbox speed {speed}, poll interval {poll:.0f}s ({load()})")
    start = "2026-06-01T12:00:00Z"
    seed = seed_doc([{"count": per, "prefix": f"w{k:02}-", "description": f"wait-{k:02}-",
                      "job": {"confirmation_required": True,
                              "timings": {"new": "1s", "preparing": f"{10 + 4 * k}s"}}}
                     for k in range(batches)], start_time=start)
    sb = Sandbox(a.bin, workdir, seed, ["--speed", str(speed)])
    r = run_s3plan(a.bin, workdir, sb, "wait", "  - name: cancel-when-suspended\n"
                   "    select: {status: [New, Preparing, Suspended], description: \"wait-*\"}\n"
                   f"    max_jobs: {n}\n    wait_for: Suspended\n    set: Cancelled\n",
                   extra=["--poll-interval", f"{poll:.0f}s"], concurrency=64, rate=1000, poll_rate=100)
    audit = {e["job_id"]: e for e in sb.audit() if e["outcome"] == "ok"}
    calls = sb.calls()
    lags = []
    for k in range(batches):
        for i in range(1, per + 1):
            job = f"w{k:02}-{i:05}"
            info = sb.get(f"jobs/{ACCOUNT}/{job}")
            held = next(parse_ts(s["start"]) for s in info["timeline"] if s["status"] == "Suspended")
            applied = parse_ts(audit[job]["sandbox_time"])
            lags.append((applied - held) / speed)
    sb.stop()
    reads = calls.get("ListJobs", 0) + calls.get("DescribeJob", 0)
    lags.sort()
    print(f"jobs applied {len(audit)}/{n}; process wall {r['wall']:.1f} s")
    print(f"reads: ListJobs {calls.get('ListJobs', 0)}, DescribeJob {calls.get('DescribeJob', 0)} "
          f"= {reads / n:.3f} reads per job")
    print(f"real seconds from gate holding to the cancel: median {statistics.median(lags):.2f}, "
          f"p99 {lags[int(0.99 * len(lags))]:.2f}, max {lags[-1]:.2f}, min {lags[0]:.2f}")
    print(f"target each job within poll interval + 1 s ({poll + 1:.0f} s): {verdict(lags[-1] <= poll + 1)}; "
          f"ListJobs instead of DescribeJob: {verdict(calls.get('DescribeJob', 0) < calls.get('ListJobs', 0))}")


def resolution(a, workdir):
    print(f"== resolution: selector over 100,000 jobs, dry run ({load()})")
    sb = Sandbox(a.bin, workdir, seed_doc([
        {"count": 97000, "prefix": "bulk-", "job": {"status": "Suspended", "priority": 10,
                                                     "tags": {"team": "search"}}},
        {"count": 1000, "prefix": "hit-", "job": {"status": "Suspended", "priority": 10,
                                                   "tags": {"team": "search"}}},
        {"count": 1000, "prefix": "hitx-", "description": "hit-x", "job": {
            "status": "Suspended", "priority": 10, "tags": {"team": "other"}}},
        {"count": 1000, "prefix": "hitp-", "description": "hit-p", "job": {
            "status": "Suspended", "priority": 90, "tags": {"team": "search"}}},
    ]))
    r = run_s3plan(a.bin, workdir, sb, "resolve", "  - name: cancel-search-hits\n"
                   "    select:\n      status: [Suspended]\n      description: \"hit-*\"\n"
                   "      priority: {min: 5, max: 50}\n      tags: {team: search}\n"
                   "    max_jobs: 1000\n    set: Cancelled\n", extra=["--dry-run"], poll_rate=10000)
    calls = sb.calls()
    mutating = len(sb.audit(op="UpdateJobStatus"))
    sb.stop()
    lj, gt = calls.get("ListJobs", 0), calls.get("GetJobTagging", 0)
    print(f"ListJobs {lj}, GetJobTagging {gt} (jobs passing status, description and priority: 2000), "
          f"DescribeJob {calls.get('DescribeJob', 0)}, UpdateJobStatus {mutating}")
    print(f"process wall {r['wall']:.2f} s, cpu {r['cpu']:.2f} s, peak RSS {r['rss_kib'] / 1024:.1f} MiB")
    print(f"target <= 101 ListJobs: {verdict(lj <= 101)}; tagging only after other filters: {verdict(gt == 2000)}")


# §3 ------------------------------------------------------------------------------------------------------

def scale(a, workdir, n=None, target_mib=100):
    n = n or a.scale_jobs
    print(f"== scale: {n} jobs selected and cancelled ({load()})")
    sb = Sandbox(a.bin, workdir, seed_doc([{"count": n, "prefix": "sc-"}]))
    r = run_s3plan(a.bin, workdir, sb, "scale", "  - name: cancel-all\n"
                   "    select: {status: [Suspended], description: \"sc-*\"}\n"
                   f"    max_jobs: {n}\n    set: Cancelled\n", concurrency=a.concurrency)
    ok = sum(1 for e in sb.audit() if e["outcome"] == "ok")
    calls = sb.calls()
    sb_cpu = sb.stop()
    print(f"cancelled {ok}/{n}; ListJobs {calls.get('ListJobs', 0)}")
    print(f"process wall {r['wall']:.2f} s = {n / r['wall']:.0f} jobs/s; cpu {r['cpu']:.2f} s = "
          f"{r['cpu'] * 1e6 / n:.1f} us per job; sandbox cpu {sb_cpu:.2f} s")
    print(f"peak RSS {r['rss_kib'] / 1024:.1f} MiB; " + ", ".join(
        f"{os.path.basename(p)} {s / 1048576:.1f} MiB" for p, s in r["sizes"].items()))
    print(f"target peak RSS <= {target_mib} MiB: {verdict(r['rss_kib'] <= target_mib * 1024)}; {load()}")


# Memory that does not grow with finished jobs (issue 15) --------------------------------------------------

def scale1m(a, workdir):
    """The scale run at 1,000,000 jobs (the sandbox seeded with them): peak RSS against 150 MiB."""
    scale(a, workdir, n=a.scale1m_jobs, target_mib=150)


def validate(a, workdir):
    plan = os.path.join(ROOT, "examples", "incident-bulk-cancel.yaml")
    runs = []
    for _ in range(a.validate_runs):
        code, wall, _, _ = run_measured([a.bin, "validate", plan])
        if code != 0:
            raise SystemExit(f"validate exited {code}")
        runs.append(wall)
    runs.sort()
    print(f"== validate {os.path.basename(plan)}, {len(runs)} runs ({load()})")
    print(f"process start to exit: min {runs[0] * 1000:.1f} ms, median {statistics.median(runs) * 1000:.1f} ms, "
          f"p90 {runs[int(0.9 * len(runs))] * 1000:.1f} ms")
    print(f"target <= 20 ms (median): {verdict(statistics.median(runs) <= 0.020)}")


# Saved plans re-check by sweep (issue 15) ----------------------------------------------------------------

def saved_sweep(a, workdir):
    """A saved plan over N Suspended jobs applied: reads of its re-check and time to its first change."""
    n, poll = a.saved_jobs, a.saved_poll_rate
    print(f"== saved: plan --out then apply SAVED.json, {n} jobs, poll_rate_limit {poll}/s ({load()})")
    sb = Sandbox(a.bin, workdir, seed_doc([{"count": n, "prefix": "sv-"}]))
    plan = os.path.join(workdir, "saved-plan.yaml")
    with open(plan, "w") as f:
        f.write(plan_doc("  - name: cancel-saved\n"
                         "    select: {status: [Suspended], description: \"sv-*\"}\n"
                         f"    max_jobs: {n}\n    set: Cancelled\n", poll_rate=poll))
    saved = os.path.join(workdir, "saved.json")
    code, plan_wall, plan_cpu, plan_rss = run_measured([a.bin, "plan", plan, "--endpoint-url", sb.url, "--out",
                                                        saved])
    if code != 0:
        raise SystemExit(f"s3plan plan --out exited {code}")
    print(f"plan --out: process wall {plan_wall:.2f} s, cpu {plan_cpu:.2f} s, peak RSS {plan_rss / 1024:.1f} MiB")
    before = sb.calls()
    report = os.path.join(workdir, "saved-report.json")
    started = time.time()
    code, wall, cpu, rss = run_measured([a.bin, "apply", saved, "--endpoint-url", sb.url, "--yes",
                                         "--report", report])
    if code != 0:
        raise SystemExit(f"s3plan apply SAVED.json exited {code}")
    calls = sb.calls()
    changes = sorted(parse_ts(e["time"]) for e in sb.audit() if e["outcome"] == "ok")
    sb.stop()
    lj = calls.get("ListJobs", 0) - before.get("ListJobs", 0)
    dj = calls.get("DescribeJob", 0) - before.get("DescribeJob", 0)
    bound = -(-n // 1000)
    # A cancel that is answered needs no read, so every read of the apply is the re-check's, made before
    # the first change.
    print(f"cancelled {len(changes)}/{n}; reads of the apply: ListJobs {lj}, DescribeJob {dj}")
    print(f"process start to first UpdateJobStatus {changes[0] - started:.2f} s; process wall {wall:.2f} s, "
          f"cpu {cpu:.2f} s, peak RSS {rss / 1024:.1f} MiB")
    # No job moves between the review and the apply, so every job is listed: the bound is ceil(N / 1,000).
    print(f"target reads <= ceil(N / 1,000) + jobs not listed = {bound} + 0: {verdict(lj + dj <= bound)}")


# --- fanout: one plan over many targets (accounts x regions) in one process --------------------------------
FANOUT_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]


def fanout(a, workdir):
    accounts = [f"{100000000000 + i:012d}" for i in range(a.fanout_accounts)]
    n, rate = a.fanout_jobs, a.fanout_rate
    targets = len(accounts) * len(FANOUT_REGIONS)
    print(f"== fanout: {len(accounts)} accounts x {len(FANOUT_REGIONS)} regions = {targets} targets, "
          f"{n} jobs each, rate_limit {rate}/s per target ({load()})")
    seed = ["random_seed: 7", "accounts:"]
    for acct in accounts:
        for r, region in enumerate(FANOUT_REGIONS):
            seed += [f'  - id: "{acct}"', f"    region: {region}", "    generate:",
                     f"      - count: {n}", f"        id_prefix: f{acct[-4:]}r{r}-",
                     "        description_prefix: fan-", '        job: {"status": "Suspended"}']
    sb = Sandbox(a.bin, workdir, "\n".join(seed) + "\n")
    plan = ["version: 1", 'reason: "benchmark"',
            f"limits: {{concurrency: {a.concurrency}, rate_limit: {rate}, poll_rate_limit: {max(rate, 20)}}}",
            "targets:"]
    for i, acct in enumerate(accounts):
        plan += [f"  - name: a{i:03d}", f'    account_id: "{acct}"', f"    regions: [{', '.join(FANOUT_REGIONS)}]"]
        if i > 0:  # the base credentials belong to the first seeded account; the others are reached by role
            plan.append(f"    role_arn: arn:aws:iam::{acct}:role/s3plan-operator")
    plan += ["jobs:", "  - name: cancel-all", '    select: {status: [Suspended], description: "fan-*"}',
             f"    max_jobs: {targets * n}", "    set: Cancelled"]
    path = os.path.join(workdir, "fanout.yaml")
    with open(path, "w") as f:
        f.write("\n".join(plan) + "\n")
    report = os.path.join(workdir, "fanout-report.json")
    started = time.time()
    with open(os.path.join(workdir, "fanout.stderr"), "w") as err:
        code, wall, cpu, rss = run_measured(
            [a.bin, "apply", path, "--endpoint-url", sb.url, "--yes", "--report", report], stderr=err,
            extra_env={"AWS_ENDPOINT_URL_STS": sb.url})
    if code != 0:
        with open(os.path.join(workdir, "fanout.stderr")) as err:
            sys.stderr.write(err.read()[-3000:])
        raise SystemExit(f"s3plan fanout exited {code}")
    audit = [e for e in sb.audit() if e["outcome"] == "ok"]
    calls = sb.calls()
    sb.stop()
    first = min(parse_ts(e["time"]) for e in audit)
    last = max(parse_ts(e["time"]) for e in audit)
    per_target = {}
    for e in audit:
        per_target.setdefault(e["job_id"].split("-")[0], []).append(parse_ts(e["time"]))
    worst = max(max_window(sorted(t)) for t in per_target.values())
    one_target = n / rate
    print(f"cancelled {len(audit)}/{targets * n} in {len(per_target)} targets; AssumeRole "
          f"{calls.get('AssumeRole', 0)}, GetCallerIdentity {calls.get('GetCallerIdentity', 0)}, "
          f"ListJobs {calls.get('ListJobs', 0)}")
    print(f"process wall {wall:.1f} s; first change {first - started:.1f} s after start (credential checks "
          f"and resolution of every target); changes from first to last {last - first:.1f} s; one target alone at its rate: {one_target:.1f} s; "
          f"all targets one after another: {one_target * targets:.0f} s")
    print(f"busiest target: {worst} calls in one second (limit {rate}); cpu {cpu:.1f} s; peak RSS {rss / 1024:.1f} MiB")
    print(f"target peak RSS <= 150 MiB: {verdict(rss <= 150 * 1024)}; per-target limit respected: "
          f"{verdict(worst <= rate * 1.1 + 1)}; {load()}")


# §4 CPU per call -----------------------------------------------------------------------------------------
# Its own block: the `cpu` section measures s3plan's client CPU per cancel beside the boto3 pool in one run.

def cpu_per_call(a, workdir):
    """µs of s3plan CPU per cancel and jobs/s against the boto3 pool, unthrottled, in one run.

    Every tool run gets its own sandbox seeded with exactly the jobs it acts on, so each lists and cancels
    those n jobs and no more (with one shared sandbox a later run also listed the jobs seeded for the runs
    after it, and paid for reading them). s3plan runs `--cpu-runs` times (the median is the figure), boto3
    once; `s3plan plan` over its own n jobs measures what start-up and resolution (ListJobs pages) alone
    cost, so the CPU of the cancels themselves is told apart from the fixed part.
    """
    n, runs = a.jobs, a.cpu_runs
    print(f"== cpu: {n} cancels each, boto3 pool(32) once, s3plan {runs} times, unthrottled, "
          f"a fresh sandbox per run ({load()})")
    sb_cpu = 0.0

    sb = Sandbox(a.bin, workdir, seed_doc([{"count": n, "prefix": "boto-"}]))
    proxy = {"HTTP_PROXY": sb.url, "NO_PROXY": "", "no_proxy": ""}
    ids = os.path.join(workdir, "boto-ids.txt")
    with open(ids, "w") as f:
        f.write("\n".join(f"boto-{i:05}" for i in range(1, n + 1)) + "\n")
    code, boto_wall, boto_cpu, _ = run_measured(
        [sys.executable, os.path.join(HERE, "bench_boto3_cancel.py"), sb.url, ACCOUNT, ids, "32"],
        stderr=None, extra_env=proxy)
    if code != 0:
        raise SystemExit(f"boto3 script exited {code}")
    boto_ok = sum(1 for e in only(sb.audit(), "boto-") if e["outcome"] == "ok")
    sb_cpu += sb.stop()

    sb = Sandbox(a.bin, workdir, seed_doc([{"count": n, "prefix": "res-"}]))
    plan = os.path.join(workdir, "cpu-resolve.yaml")
    with open(plan, "w") as f:
        f.write(plan_doc("  - name: cancel\n    select: {status: [Suspended], description: \"res-*\"}\n"
                         f"    max_jobs: {n}\n    set: Cancelled\n", concurrency=a.concurrency))
    code, res_wall, res_cpu, _ = run_measured([a.bin, "plan", plan, "--endpoint-url", sb.url])
    if code != 0:
        raise SystemExit(f"s3plan plan exited {code}")
    sb_cpu += sb.stop()

    mine = []
    for k in range(runs):
        sb = Sandbox(a.bin, workdir, seed_doc([{"count": n, "prefix": f"c{k}-"}]))
        r = run_s3plan(a.bin, workdir, sb, f"cpu-s3plan-{k}",
                       "  - name: cancel\n"
                       f"    select: {{status: [Suspended], description: \"c{k}-*\"}}\n"
                       f"    max_jobs: {n}\n"
                       "    set: Cancelled\n", concurrency=a.concurrency)
        ok = sum(1 for e in only(sb.audit(), f"c{k}-") if e["outcome"] == "ok")
        sb_cpu += sb.stop()
        mine.append((r["cpu"], r["wall"], ok, r["rss_kib"]))
        print(f"  s3plan run {k + 1}: {ok}/{n} cancelled, wall {r['wall']:.2f} s = {n / r['wall']:.0f} jobs/s, "
              f"cpu {r['cpu']:.2f} s = {r['cpu'] * 1e6 / n:.1f} us/cancel, peak RSS {r['rss_kib'] / 1024:.0f} MiB "
              f"({load()})")

    cpu = statistics.median(m[0] for m in mine)
    wall = statistics.median(m[1] for m in mine)
    boto_rate, rate = n / boto_wall, n / wall
    print(f"boto3 pool(32): {boto_ok}/{n} cancelled, wall {boto_wall:.2f} s = {boto_rate:.0f} jobs/s, "
          f"cpu {boto_cpu * 1e6 / n:.0f} us/cancel")
    print(f"s3plan plan (start-up + resolution of {n} jobs, no cancels): wall {res_wall:.2f} s, "
          f"cpu {res_cpu:.2f} s = {res_cpu * 1e6 / n:.1f} us/job")
    print(f"s3plan apply, median of {runs}: wall {wall:.2f} s = {rate:.0f} jobs/s; cpu {cpu * 1e6 / n:.1f} us/cancel "
          f"(of which start-up + resolution {res_cpu * 1e6 / n:.1f}, cancels {(cpu - res_cpu) * 1e6 / n:.1f})")
    # The plan's rate_limit tops out at 10,000 calls/s (plan validation), so s3plan's jobs/s can reach at
    # most n / (n / 10,000 + start-up and resolution): the ratio is bounded by that, not by CPU.
    print(f"s3plan / boto3 pool: {rate / boto_rate:.1f}x (process wall; s3plan is held to rate_limit 10,000/s, "
          f"so at most {n / (n / 10000 + res_wall) / boto_rate:.1f}x here); sandbox cpu {sb_cpu:.2f} s; {load()}")
    every = boto_ok == n and all(m[2] == n for m in mine)
    print(f"target <= 60 us of client cpu per cancel: {verdict(cpu * 1e6 / n <= 60)}; "
          f">= 10x the boto3 pool: {verdict(rate / boto_rate >= 10)}; every job cancelled: {verdict(every)}")


# §4 Throttling at three server rates ----------------------------------------------------------------------

THROTTLE_RATES = (20, 100, 1000)


def throttle_run(a, workdir, server, n, plan_rate):
    """One run against a sandbox whose UpdateJobStatus bucket refills at `server`/s (burst = one second's
    worth, the sandbox's default), under a plan of `plan_rate`/s; returns the figures."""
    print(f"== server limit: {n} cancels, sandbox UpdateJobStatus={server}/s (burst {server}), "
          f"plan rate {plan_rate}, concurrency 64 ({load()})")
    prefix = f"thr{server}-"
    sb = Sandbox(a.bin, workdir, seed_doc([{"count": n, "prefix": prefix}]),
                 ["--throttle", f"UpdateJobStatus={server}"])
    r = run_s3plan(a.bin, workdir, sb, f"throttle-{server}", "  - name: cancel\n"
                   f"    select: {{status: [Suspended], description: \"{prefix}*\"}}\n"
                   f"    max_jobs: {n}\n    set: Cancelled\n", concurrency=64, rate=plan_rate)
    audit = sb.audit()
    sb.stop()
    ok = [e for e in audit if e["outcome"] == "ok"]
    thr = [e for e in audit if e["outcome"] == "TooManyRequestsException"]
    s, _ = span(audit)
    done = len({e["job_id"] for e in ok})
    goodput = len(ok) / s if s > 0 else float("nan")
    # The bucket starts full: its first `server` calls are a one-off burst, not the sustained rate.
    steady = (len(ok) - server) / s if s > 0 else float("nan")
    share = len(thr) / len(audit) if audit else float("nan")
    t0 = min(parse_ts(e["time"]) for e in audit)
    per_second = {}
    for e in thr:
        k = int(parse_ts(e["time"]) - t0)
        per_second[k] = per_second.get(k, 0) + 1
    first = per_second.get(0, 0)
    print(f"calls {len(audit)}: ok {len(ok)}, throttled {len(thr)} ({100 * share:.1f} %; {first} in the first "
          f"second), other {len(audit) - len(ok) - len(thr)}")
    print(f"first to last call {s:.2f} s, goodput {goodput:.1f}/s = {100 * goodput / server:.1f} % of {server}/s "
          f"({100 * steady / server:.1f} % without the bucket's initial {server}); process wall {r['wall']:.2f} s")
    print("throttled per second of the run: " + " ".join(f"{per_second.get(k, 0)}" for k in range(int(s) + 1)))
    print(f"jobs done {done}/{n}")
    met = goodput >= 0.95 * server and share <= 0.05 and done == n
    print(f"target goodput >= 95 %: {verdict(goodput >= 0.95 * server)}; throttled <= 5 %: "
          f"{verdict(share <= 0.05)}; every job done: {verdict(done == n)}")
    return {"server": server, "jobs": n, "plan": plan_rate, "calls": len(audit), "throttled": len(thr),
            "share": share, "first": first, "goodput": goodput, "steady": steady, "done": done, "met": met}


def throttle_rates(a, workdir):
    """Server rates of 20, 100 and 1,000/s under a plan ten times faster (capped at the plan's maximum)."""
    rows = []
    for server in a.throttle_rates:
        n = a.throttle_jobs or max(2000, 20 * server)
        rows.append(throttle_run(a, workdir, server, n, min(10 * server, 10000)))
        sys.stdout.flush()
    print("server/s  plan/s   jobs   calls  throttled  first-s  goodput  (steady)  done")
    for r in rows:
        print(f"{r['server']:>8} {r['plan']:>7} {r['jobs']:>6} {r['calls']:>7} {100 * r['share']:>8.1f} % "
              f"{r['first']:>8} {100 * r['goodput'] / r['server']:>6.1f} % ({100 * r['steady'] / r['server']:.1f} %) "
              f"{r['done']}/{r['jobs']} {verdict(r['met'])}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("section", nargs="?", default="all",
                   choices=["peers", "limits", "rate", "throttle", "wait", "resolve", "scale", "validate", "cpu",
                            "saved", "fanout", "scale1m", "all"])
    p.add_argument("--bin", required=True)
    p.add_argument("--jobs", type=int, default=10000, help="jobs for boto3 and s3plan in peers")
    p.add_argument("--cli-jobs", type=int, default=100, help="jobs for the AWS CLI loop in peers")
    p.add_argument("--scale-jobs", type=int, default=100000)
    p.add_argument("--scale1m-jobs", type=int, default=1000000, help="jobs of scale1m")
    p.add_argument("--concurrency", type=int, default=256)
    p.add_argument("--validate-runs", type=int, default=50)
    p.add_argument("--fanout-accounts", type=int, default=100, help="accounts in fanout (4 regions each)")
    p.add_argument("--fanout-jobs", type=int, default=100, help="jobs per target in fanout")
    p.add_argument("--fanout-rate", type=float, default=20, help="rate_limit per target in fanout")
    p.add_argument("--saved-jobs", type=int, default=10000, help="jobs of the saved plan in saved")
    p.add_argument("--saved-poll-rate", type=int, default=100, help="poll_rate_limit of the saved plan")
    p.add_argument("--cpu-runs", type=int, default=3, help="s3plan runs in cpu (the median is the figure)")
    p.add_argument("--throttle-rates", type=lambda t: [int(x) for x in t.split(",")], default=THROTTLE_RATES,
                   help="server rates for throttle, comma-separated")
    p.add_argument("--throttle-jobs", type=int, default=0,
                   help="jobs per throttle run (default: 20 s at the server rate, at least 2,000)")
    a = p.parse_args()
    print(f"machine: {machine()}; {load()}")
    sections = {
        "peers": [peers], "rate": [rate_fidelity], "throttle": [throttle_rates], "wait": [waiting],
        "resolve": [resolution], "limits": [rate_fidelity, throttle_rates, waiting, resolution],
        "scale": [scale], "validate": [validate], "cpu": [cpu_per_call], "saved": [saved_sweep],
        "fanout": [fanout], "scale1m": [scale1m],
    }
    sections["all"] = (sections["peers"] + sections["limits"] + sections["scale"] + sections["validate"]
                       + sections["cpu"] + sections["saved"] + sections["fanout"] + sections["scale1m"])
    with tempfile.TemporaryDirectory(prefix="s3plan-bench-") as workdir:
        for f in sections[a.section]:
            f(a, workdir)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
