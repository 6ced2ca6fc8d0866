"""Ingress capacity: accepted async jobs per second with the workers stopped, and the 429 path.

A private stack (``bench/stack.py``) runs the API with ``--api-workers`` uvicorn processes and no
worker, so every accepted job stays queued. wrk (``make bench-setup`` installs it) POSTs a small
real photo (docs/samples/chelsea.jpg, 451×300, 38 KB) as multipart to the asynchronous endpoint
``POST /v1/jobs/remove-background``:

- accepted path: a tenant with ample credits and limits, so each request goes through auth,
  rate limit, multipart parsing and header probe, the input PUT to S3, the job row and its
  debit in one Postgres transaction, and the enqueue on Redis → 202;
- 429 path: a tenant whose limit (1/minute) is spent, so each request is refused after auth and
  the rate limit → 429. After the first refusal each API process knows the tenant is refused
  until a later instant and has its key cached, so these 429s are answered from memory (no
  Postgres, no Redis; see docs/billing.md).

The queue bound (``CUTOUT_MAX_QUEUE_DEPTH``) is raised to a million for the run: with no worker
the queue only grows, and the default bound of 1,000 would turn the run into 503s after a few
seconds. Its check (one LLEN) still runs on every request. wrk, the API, Postgres, Redis and
the S3 endpoint share the machine's cores.

    .venv/bin/python bench/ingress.py [--duration 10] [--connections 16] [--api-workers 2]

``make bench`` runs it with 3 API processes: on 2 cores a third process keeps a core busy
while the others wait on Postgres and Redis (296.6–298.1 accepted/s with 2, 301.6–313.1
with 3, same idle machine, 2026-11-30).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH, SAMPLES, write_result
from bench.stack import Stack, cpu_seconds, stack

ASYNC_PATH = "/v1/jobs/remove-background"
PHOTO = SAMPLES / "chelsea.jpg"
QUEUE_BOUND = 1_000_000


def measured(ours: Stack, url: str, key: str, args: argparse.Namespace) -> dict:
    """One wrk run, with the CPU the API and S3 processes spent during it."""
    api, s3 = ours.pids("api"), ours.pids("s3")
    before = cpu_seconds(api), cpu_seconds(s3)
    result = wrk(url, key, args.duration, args.connections, args.wrk_threads)
    result["api_cpu_s"] = round(cpu_seconds(api) - before[0], 2)
    result["s3_cpu_s"] = round(cpu_seconds(s3) - before[1], 2)
    result["api_and_s3_cpu_s"] = round(result["api_cpu_s"] + result["s3_cpu_s"], 2)
    return result


def wrk(url: str, key: str, duration: int, connections: int, threads: int) -> dict:
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "30s",
        "-s",
        str(BENCH / "wrk_post.lua"),
        url,
        "--",
        key,
        str(PHOTO),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK_JSON "))
    result = json.loads(line.removeprefix("WRK_JSON "))
    result["command"] = " ".join([*argv[:-3], "URL", "--", "KEY", "PHOTO"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: run `make bench-setup` (apt-get install wrk)")

    with stack(
        api_workers=args.api_workers,
        worker_concurrency=None,
        extra_env={"CUTOUT_MAX_QUEUE_DEPTH": str(QUEUE_BOUND)},
    ) as ours:
        paths = httpx.get(f"{ours.api_url}/openapi.json", timeout=30).json()["paths"]
        if ASYNC_PATH not in paths:
            raise SystemExit(f"this build has no {ASYNC_PATH}: nothing to measure")
        generous = ours.tenant(
            credits=100_000_000, rate_limit=100_000_000, burst=10_000_000, concurrent=100_000_000
        )
        limited = ours.tenant(credits=1_000, rate_limit=1, burst=1)
        url = ours.api_url + ASYNC_PATH
        first = httpx.post(
            url,
            headers={"X-API-Key": limited},
            files={"image": ("photo.jpg", PHOTO.read_bytes(), "image/jpeg")},
            timeout=30,
        )
        assert first.status_code == 202, first.text  # the limited tenant's one request
        runs: dict[str, list[dict]] = {"accepted": [], "rate_limited": []}
        for _ in range(args.rounds):
            for name, key in (("accepted", generous), ("rate_limited", limited)):
                runs[name].append(measured(ours, url, key, args))
    rows = {}
    for name, results in runs.items():
        status = "202" if name == "accepted" else "429"
        rates = [r["status"].get(status, 0) / r["duration_s"] for r in results]
        answered = sum(r["status"].get(status, 0) for r in results)
        cpu_ms = 1000 * sum(r["api_and_s3_cpu_s"] for r in results) / max(answered, 1)
        api_ms = 1000 * sum(r["api_cpu_s"] for r in results) / max(answered, 1)
        rows[name] = {
            "per_second": round(sorted(rates)[len(rates) // 2], 1),
            # CPU of the API and S3 processes per answered request (Postgres, Redis and wrk not
            # included: they are shared with other users of the machine).
            "api_and_s3_cpu_ms_per_request": round(cpu_ms, 2),
            "api_cpu_ms_per_request": round(api_ms, 2),
            "per_round": [round(rate, 1) for rate in rates],
            "expected_status": int(status),
            "runs": results,
        }
        other = {s: n for r in results for s, n in r["status"].items() if s != status}
        print(f"{name}: {rows[name]['per_second']} responses/s with {status}; others: {other}")
    write_result(
        "ingress",
        {
            "command": " ".join(["bench/ingress.py", *sys.argv[1:]]),
            "setup": {
                "api_workers": args.api_workers,
                "connections": args.connections,
                "duration_s": args.duration,
                "photo": f"{PHOTO.name} ({PHOTO.stat().st_size} bytes)",
                "endpoint": ASYNC_PATH,
                "max_queue_depth": QUEUE_BOUND,
            },
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
