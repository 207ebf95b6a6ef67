#!/usr/bin/env python3
"""Where a run's CPU goes, from a `perf record --call-graph dwarf` profile of `s3plan apply`.

Reads the text of `perf script -F comm,tid,ip,sym` and puts each sample in the first bucket whose frames
(any depth) contain one of its markers, in the order below, so a sample is counted once: the journal's
blocking-pool thread first, then page faults, resolution, hyper's connection task, the SDK's parts, then
s3plan's own. Prints each bucket's share and, given the run's measured CPU (`/usr/bin/time`, without perf)
and job count, its µs per job. Used for the tables of docs/performance.md §4.

Usage: perf script -i apply.data -F comm,tid,ip,sym > samples.txt
       scripts/perf_buckets.py samples.txt --jobs 20000 --cpu-seconds 1.24
"""

import argparse
import collections

BUCKETS = [
    ("journal thread: write + fdatasync (blocking pool)", ["blocking::pool::Inner::run"]),
    ("start-up (dynamic loader)", ["_dl_start", "_dl_map", "dl_main"]),
    ("page faults (any)", ["exc_page_fault", "asm_exc_page_fault"]),
    ("resolution: ListJobs (send + parse)", ["list_jobs", "ListJobs"]),
    ("hyper connection task (HTTP/1 write/read, loopback TCP)", ["hyper::proto::h1::dispatch::Dispatcher"]),
    ("SDK: SigV4 signing", ["SigV4Signer", "aws_sigv4::"]),
    ("SDK: endpoint resolution", ["orchestrate_endpoint", "resolve_endpoint", "endpoint::"]),
    ("SDK: serialise request", ["RequestSerializer", "serialize_input"]),
    ("SDK: parse answer", ["ResponseDeserializer", "aws_smithy_xml"]),
    ("SDK: apply_configuration (plugins, layers, components)",
     ["apply_configuration", "operation_runtime_plugins", "RuntimePlugins"]),
    ("SDK: identity/auth resolution", ["orchestrate_auth", "resolve_identity", "IdentityCache", "identity::"]),
    ("SDK: interceptors", ["Interceptors<I>", "Intercept>"]),
    ("SDK: connector call (hyper client, pool checkout)", ["hyper_util::client::legacy", "aws_smithy_http_client"]),
    ("SDK: orchestrator other (context, config bag, drop)",
     ["aws_smithy_runtime::client::orchestrator", "invoke_with_stop_point"]),
    ("journal: intent/ack lines rendered + handed to the writer", ["exec::journal", "journal_line", "acknowledge"]),
    ("coordinator + reporters (JSON report included)", ["coordinator", "report::", "reporter"]),
    ("executor, scheduler, limiter, events (s3plan's own)", ["exec::", "s3plan::"]),
    ("other", [""]),
]


def samples(path):
    frames = None
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if frames is not None:
                    yield frames
                frames = None
            elif not line[0].isspace():
                frames = []
            elif frames is not None:
                parts = line.strip().split(None, 1)
                frames.append(parts[-1])
    if frames is not None:
        yield frames


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("samples")
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--cpu-seconds", type=float, required=True, help="the run's CPU measured without perf")
    a = p.parse_args()
    counts = collections.Counter()
    total = 0
    for frames in samples(a.samples):
        total += 1
        text = "\n".join(frames)
        for name, markers in BUCKETS:
            if any(m in text for m in markers):
                counts[name] += 1
                break
    per_job = a.cpu_seconds * 1e6 / a.jobs
    print(f"{total} samples; {a.cpu_seconds:.2f} s CPU for {a.jobs} jobs = {per_job:.1f} µs per job")
    for name, _ in BUCKETS:
        share = counts[name] / total if total else 0.0
        print(f"{share * 100:6.1f} %  {share * per_job:6.1f} µs  {name}")


if __name__ == "__main__":
    main()
