"""Where a synchronous job's CPU goes across the whole service: API, worker, S3, Postgres, Redis.

Starts a private stack (``bench/stack.py``), sends ``--requests`` of the mixed 0.3–5 MP photos
with ``--concurrency`` in flight (``POST /v1/remove-background``, ``Accept: image/png``), and
reads each process group's user + system CPU time from ``/proc`` before and after. Postgres and
Redis are the machine's shared servers, so their figures include anything else they served
meanwhile (nothing, on an idle machine). The client's own CPU is reported too.

With ``--threads`` onnxruntime threads per worker process (default 2, as docker-compose.yml and
``bench/service_vs_rembg.py`` run them; two worker processes).

    .venv/bin/python bench/service_cpu.py [--requests 24] [--concurrency 4] [--threads 2]
        [--no-refine]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DEVICES, RESULT_SUFFIX, mixed_photos, write_result
from bench.service_vs_rembg import Cutout, phase
from bench.stack import cpu_seconds, provider_env, stack


def _pids_of(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [int(pid) for pid in found.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads per worker")
    parser.add_argument("--no-refine", action="store_true", help="CUTOUT_REFINE_EDGES=false")
    parser.add_argument(
        "--device", choices=DEVICES, default="cpu", help="the workers' providers (bench/stack.py)"
    )
    args = parser.parse_args()

    photos = mixed_photos()
    items = [(photo.path.read_bytes(), (photo.width, photo.height)) for photo in photos]
    extra = provider_env(args.device)
    if args.no_refine:
        extra["CUTOUT_REFINE_EDGES"] = "false"
    with stack(worker_concurrency=2, ort_threads=args.threads, extra_env=extra) as ours:
        key = ours.tenant(credits=1_000_000, rate_limit=1_000_000, burst=100_000)
        side = Cutout(ours.api_url, key)
        phase(side, items[:2], 1)  # warm-up
        groups = {name: ours.pids(name) for name in ours.processes}
        groups["postgres"] = _pids_of("postgres")
        groups["redis"] = _pids_of("redis-server")
        before = {name: cpu_seconds(pids) for name, pids in groups.items()}
        client_before = os.times()
        work = [items[i % len(items)] for i in range(args.requests)]
        done = phase(side, work, args.concurrency)
        client_after = os.times()
        after = {name: cpu_seconds(pids) for name, pids in groups.items()}
    completed = len(done["latencies"])
    per_request = {
        name: round((after[name] - before[name]) / completed * 1000, 1) for name in groups
    }
    client = (client_after.user - client_before.user) + (client_after.system - client_before.system)
    per_request["client"] = round(client / completed * 1000, 1)
    for name, ms in per_request.items():
        print(f"{name:9s} {ms:7.1f} ms of CPU per request")
    print(f"{completed} requests in {done['wall_s']:.1f} s: {completed / done['wall_s']:.2f}/s")
    write_result(
        "service-cpu" + RESULT_SUFFIX[args.device] + ("-plain" if args.no_refine else ""),
        {
            "command": " ".join(["bench/service_cpu.py", *sys.argv[1:]]),
            "requests": completed,
            "errors": len(done["errors"]),
            "throughput_rps": round(completed / done["wall_s"], 3),
            "cpu_ms_per_request": per_request,
        },
    )


if __name__ == "__main__":
    main()
