"""Throughput and latency of the whole service against ``rembg s``, same model, same photos.

Both sides get the same CPUs (``--cpus``, via taskset) and the same parallelism: our Celery
worker runs ``--workers`` processes with ``--threads`` onnxruntime threads each; ``rembg s`` runs
with ``--threads`` = ``--workers`` request threads and ``OMP_NUM_THREADS`` = ``--rembg-threads``
(rembg gives that to onnxruntime). Both load U²-Netp (``rembg s`` from ``$U2NET_HOME``, put there by
``make bench-setup``; never downloaded).

``--rembg-threads`` (default ``1 2``) runs one ``rembg s`` per ``OMP_NUM_THREADS`` value, each
measured like the other sides, and compares Cutout with the *faster* of them at each concurrency
(one thread per request suits rembg under load, two when requests come one at a time); every
configuration's figures are kept in ``rembg_by_threads``. Our workers get every core by default
(``--threads 2``), as docker-compose.yml sets them: their idle threads sleep, so two processes
sharing the cores lose little to each other (docs/models.md).

Ours is measured end to end as a client sees it: ``POST /v1/remove-background`` (multipart,
``Accept: image/png``) → auth, rate limit, credits → S3 → Redis queue → worker → S3 → the PNG in
the response. rembg: ``POST /api/remove`` (multipart, ``model=u2netp``) → the PNG. For each
concurrency (default 1, 4, 16) and each of ``--rounds`` rounds the two sides run the same list
of requests one after the other, alternating which goes first; throughput is completed requests
per second of wall time (median over rounds), latency p50/p95 pooled over rounds.

With ``--no-refine`` Cutout's edge refinement is off, so both sides return the same thing (the
model's mask, cut out); results go to ``service-vs-rembg-plain.json``.

    .venv/bin/python bench/service_vs_rembg.py [--rounds 2] [--concurrency 1 4 16] [--cpus 0,1]
        [--no-refine]
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BENCH,
    DEVICES,
    RESULT_SUFFIX,
    device_note,
    median,
    mixed_photos,
    percentile,
    write_result,
)
from bench.stack import Stack, peak_rss_mb, pinned, provider_env, stack
from cutout import devstack

REMBG = BENCH / ".venv-rembg" / "bin" / "rembg"


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


class Side:
    name: str

    def request(self, client: httpx.Client, data: bytes) -> httpx.Response:
        raise NotImplementedError


class Cutout(Side):
    name = "cutout"

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key

    def request(self, client: httpx.Client, data: bytes) -> httpx.Response:
        return client.post(
            f"{self.url}/v1/remove-background",
            headers={"X-API-Key": self.key, "Accept": "image/png"},
            files={"image": ("photo.jpg", data, "image/jpeg")},
        )


class Rembg(Side):
    def __init__(self, url: str, threads: int) -> None:
        self.url = url
        self.threads = threads  # the server's OMP_NUM_THREADS
        self.name = f"rembg-{threads}t"

    def request(self, client: httpx.Client, data: bytes) -> httpx.Response:
        return client.post(
            f"{self.url}/api/remove",
            data={"model": "u2netp"},
            files={"file": ("photo.jpg", data, "image/jpeg")},
        )


def phase(side: Side, work: list[tuple[bytes, tuple[int, int]]], concurrency: int) -> dict:
    """Send every request of ``work`` with ``concurrency`` in flight; time each and the whole."""
    latencies: list[float] = []
    errors: list[str] = []

    def one(item: tuple[bytes, tuple[int, int]]) -> None:
        data, size = item
        started = time.perf_counter()
        try:
            response = side.request(client, data)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                errors.append(f"{response.status_code} {response.text[:120]}")
            elif png_size(response.content) != size:
                errors.append(f"wrong size {png_size(response.content)} for {size}")
            else:
                latencies.append(elapsed)
        except (httpx.HTTPError, ValueError) as error:
            errors.append(repr(error))

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=600, limits=limits) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, work))
        wall = time.perf_counter() - started
    return {"wall_s": wall, "latencies": latencies, "errors": errors}


def start_rembg(port: int, workers: int, threads: int, cpus: str | None, log: Path):
    env = {"OMP_NUM_THREADS": str(threads)}
    argv = [str(REMBG), "s", "--host", "127.0.0.1", "--port", str(port), "--no-ui"]
    process = devstack.spawn(pinned([*argv, "--threads", str(workers)], cpus), env, log)
    devstack.wait_until(lambda: devstack.port_open(port), 120, "rembg s", process)
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=24, help="per phase (at least c)")
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.3, 1.0, 2.5, 5.0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes / rembg threads")
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="onnxruntime threads per worker process (default 2: every core, as compose sets)",
    )
    parser.add_argument(
        "--rembg-threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="OMP_NUM_THREADS of rembg s; several: one server each, the faster one compared "
        "at each concurrency (default: 1 and 2)",
    )
    parser.add_argument("--cpus", default=None, help="CPU list for taskset (default: all)")
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="openvino: our workers on OpenVINOExecutionProvider in bf16; run this script "
        "from a venv with the `openvino` extra (docs/models.md)",
    )
    parser.add_argument(
        "--no-refine",
        action="store_true",
        help="edge refinement off (CUTOUT_REFINE_EDGES=false): the plain mask, as rembg returns",
    )
    args = parser.parse_args()
    if not REMBG.exists():
        raise SystemExit("bench/.venv-rembg is missing: run `make bench-setup` first")

    photos = mixed_photos(args.sizes)
    items = [(photo.path.read_bytes(), (photo.width, photo.height)) for photo in photos]
    extra = provider_env(args.device)
    if args.no_refine:
        extra["CUTOUT_REFINE_EDGES"] = "false"
    with ExitStack() as cleanup:
        ours: Stack = cleanup.enter_context(
            stack(
                worker_concurrency=args.workers,
                ort_threads=args.threads,
                cpus=args.cpus,
                extra_env=extra,
            )
        )
        key = ours.tenant(credits=1_000_000, rate_limit=1_000_000, burst=100_000)
        rembg_threads = args.rembg_threads or [args.threads]
        rembgs, rembg_sides = [], []
        for threads in rembg_threads:
            port = devstack.free_port()
            log = ours.log_dir / f"rembg-{threads}.log"
            rembgs.append(start_rembg(port, args.workers, threads, args.cpus, log))
            cleanup.callback(devstack.stop, rembgs[-1])
            rembg_sides.append(Rembg(f"http://127.0.0.1:{port}", threads))
        sides: list[Side] = [Cutout(ours.api_url, key), *rembg_sides]
        for side in sides:  # warm-up: rembg loads its model on the first request
            warm = phase(side, items[:2], 1)
            if warm["errors"]:
                raise SystemExit(f"{side.name} warm-up failed: {warm['errors'][:3]}")

        results = []
        for concurrency in args.concurrency:
            count = max(args.requests, concurrency)
            work = [items[i % len(items)] for i in range(count)]
            runs: dict[str, list[dict]] = {side.name: [] for side in sides}
            for round_ in range(args.rounds):
                order = sides if round_ % 2 == 0 else list(reversed(sides))
                for side in order:
                    runs[side.name].append(phase(side, work, concurrency))
            row: dict[str, object] = {"concurrency": concurrency, "requests_per_phase": count}
            measured: dict[str, dict[str, object]] = {}
            for name, phases in runs.items():
                latencies = [value for p in phases for value in p["latencies"]]
                throughputs = [len(p["latencies"]) / p["wall_s"] for p in phases]
                measured[name] = {
                    "throughput_rps": round(median(throughputs), 3),
                    "throughput_per_round": [round(value, 3) for value in throughputs],
                    "latency_p50_s": round(percentile(latencies, 50), 3),
                    "latency_p95_s": round(percentile(latencies, 95), 3),
                    "errors": sum(len(p["errors"]) for p in phases),
                    "error_samples": [e for p in phases for e in p["errors"]][:3],
                }
            row["cutout"] = measured.pop("cutout")
            by_threads = {side.threads: measured[side.name] for side in rembg_sides}
            fastest = max(by_threads, key=lambda t: by_threads[t]["throughput_rps"])  # type: ignore[arg-type, return-value]
            row["rembg"] = {**by_threads[fastest], "omp_num_threads": fastest}
            row["rembg_by_threads"] = by_threads
            row["throughput_ratio_cutout_over_rembg"] = round(
                row["cutout"]["throughput_rps"] / row["rembg"]["throughput_rps"],
                2,  # type: ignore[index]
            )
            results.append(row)
            print(
                f"c={concurrency:2d}  cutout {row['cutout']['throughput_rps']:.2f} rps "  # type: ignore[index]
                f"p50 {row['cutout']['latency_p50_s']:.2f}s  "  # type: ignore[index]
                f"rembg {row['rembg']['throughput_rps']:.2f} rps "  # type: ignore[index]
                f"p50 {row['rembg']['latency_p50_s']:.2f}s  "  # type: ignore[index]
                f"ratio {row['throughput_ratio_cutout_over_rembg']}"
            )
        memory = {
            "cutout_worker_processes_peak_mb": peak_rss_mb(ours.pids("worker")),
            "rembg_server_peak_mb": peak_rss_mb([process.pid for process in rembgs]),
        }
    name = "service-vs-rembg" + RESULT_SUFFIX[args.device]
    write_result(
        name + ("-plain" if args.no_refine else ""),
        {
            "command": " ".join(["bench/service_vs_rembg.py", *sys.argv[1:]]),
            "device": device_note(args.device),
            "setup": {
                "cpus": args.cpus or f"all ({os.cpu_count()})",
                "cutout": f"{args.workers} Celery worker processes × {args.threads} onnxruntime "
                "thread(s); 1 API process; moto S3, Postgres and Redis on the same cores; edge "
                + ("refinement off" if args.no_refine else "refinement on (the default)"),
                "rembg": f"rembg s --threads {args.workers}, OMP_NUM_THREADS="
                + " or ".join(map(str, rembg_threads))
                + (" (the faster one at each concurrency)" if len(rembg_threads) > 1 else ""),
                "photos": [photo.label() for photo in photos],
            },
            "rows": results,
            "peak_rss_after_run": memory,
        },
    )


if __name__ == "__main__":
    main()
