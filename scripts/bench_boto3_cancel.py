#!/usr/bin/env python3
"""The strong peer of benchmark §1: cancel a list of jobs with boto3 and a 32-thread pool.

What an operator would write today: one shared client (clients are thread-safe), a pool of
max_pool_connections connections, botocore's standard retry mode, one UpdateJobStatus per job. The
account-prefixed host is reached through HTTP_PROXY pointing at the sandbox (docs/sandbox.md).
Usage: bench_boto3_cancel.py ENDPOINT_URL ACCOUNT_ID IDS_FILE WORKERS
"""

import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

url, account, ids_file, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(ids_file) as f:
    ids = [line.strip() for line in f if line.strip()]
client = boto3.client("s3control", endpoint_url=url, region_name="us-east-1",
                      config=Config(max_pool_connections=workers,
                                    retries={"mode": "standard", "max_attempts": 5}))


def cancel(job_id):
    try:
        client.update_job_status(AccountId=account, JobId=job_id, RequestedJobStatus="Cancelled",
                                 StatusUpdateReason="benchmark")
        return None
    except Exception as e:  # the benchmark counts failures, it does not stop on them
        return f"{job_id}: {e}"


with ThreadPoolExecutor(max_workers=workers) as pool:
    failures = [f for f in pool.map(cancel, ids) if f]
for f in failures[:5]:
    print(f, file=sys.stderr)
print(f"cancelled {len(ids) - len(failures)} of {len(ids)}")
sys.exit(1 if failures else 0)
