"""Per-stage time of one job on real photos from 0.3 to 36 MP, and total ÷ inference.

Runs the worker's own pipeline (``workers.pipeline.run.remove_background``) in this process with
its stage timer, set up as a worker process sets itself up (heap, OpenCV's threads), so the
figures follow the code: decode, resize (photo down to the network and the
mask back up), inference, refine, encode; a second pass with a shadow job times the shadow stage;
upload is a PUT of the PNG to an S3 endpoint over HTTP (a moto server started here, or
``--s3-endpoint``). Medians over ``--runs`` after one warm-up.

At ``--every-source-at`` (2.5 MP) every source photo is run, not only the first (the openwork
pavilion, whose outline is the hardest for refinement).

    .venv/bin/python bench/stages.py [--runs 5] [--sizes 0.3 1 2.5 5 12 36] [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    DEVICES,
    RESULT_SUFFIX,
    device_note,
    median,
    photo_at,
    providers_for,
    source_photos,
    write_result,
)
from workers.pipeline.run import StageTimes

STAGES = ("decode", "resize", "inference", "refine", "shadow", "encode", "upload")
DEFAULT_SIZES = (0.3, 1.0, 2.5, 5.0, 12.0, 36.0)


@contextmanager
def s3_endpoint(url: str | None):
    """The given endpoint, or a moto server on a free port for the length of the run."""
    if url:
        yield url
        return
    from cutout import devstack

    port = devstack.free_port()
    log = Path("/tmp") / f"cutout-bench-s3-{port}.log"
    process = devstack.spawn(devstack.s3_server_argv(port, Path("/tmp") / "unused"), {}, log)
    try:
        devstack.wait_until(lambda: devstack.port_open(port), 30, "S3 endpoint", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        devstack.stop(process)


class CpuStageTimes(StageTimes):
    """The pipeline's stage timer, also counting this process's CPU time per stage.

    On a shared machine wall-clock time includes waiting for a core; CPU time does not. It is
    the whole process's (``time.process_time``), not the calling thread's: OpenCV runs resizes,
    filters and remaps on its own worker threads, which a per-thread clock would not see. With
    one onnxruntime thread (``--threads 1``) inference runs on the calling thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.process_time()
        try:
            with super().stage(name):
                yield
        finally:
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - start


def load_segmenter(device: str, threads: int):
    from workers.models.registry import U2NETP, locate
    from workers.models.session import SessionConfig
    from workers.pipeline.segment import Segmenter

    config = SessionConfig(providers=providers_for(device), intra_op_threads=threads)
    return Segmenter.load(U2NETP, locate(U2NETP, Path("/nonexistent")), config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", type=float, nargs="+", default=DEFAULT_SIZES)
    parser.add_argument(
        "--every-source-at",
        type=float,
        default=2.5,
        help="the size (MP) also run on every other source photo: how much refinement costs "
        "depends on the subject's outline, not only on the size",
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="openvino: OpenVINO in bf16, from bench/.venv-openvino (docs/models.md)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="onnxruntime intra-op threads; OpenCV gets as many, as in a worker (0: defaults)",
    )
    parser.add_argument("--s3-endpoint", help="default: a moto server started for the run")
    parser.add_argument("--no-upload", action="store_true")
    parser.add_argument("--name", default=None, help="results file name (default stages[-gpu])")
    args = parser.parse_args()

    from storage.objects import PNG, ObjectStore
    from storage.settings import Settings
    from workers.contract import JobOptions, ShadowOptions
    from workers.heap import reuse_freed_heap
    from workers.pipeline.run import remove_background
    from workers.runtime import limit_opencv_threads

    reuse_freed_heap()  # as a worker process does (workers/tasks.py)
    limit_opencv_threads(args.threads)
    segmenter = load_segmenter(args.device, args.threads)
    device = {**device_note(args.device), "providers": segmenter.providers}
    rows = []
    with s3_endpoint(None if args.no_upload else args.s3_endpoint) as endpoint:
        store = None
        if not args.no_upload:
            os.environ.setdefault("CUTOUT_S3_BUCKET", f"bench-{uuid.uuid4().hex[:8]}")
            store = ObjectStore(Settings(s3_endpoint_url=endpoint))
            store.ensure_bucket()
        photos = [
            photo_at(megapixels, source)
            for megapixels in args.sizes
            for source in (
                source_photos() if megapixels == args.every_source_at else source_photos()[:1]
            )
        ]
        for photo in photos:
            data = photo.path.read_bytes()
            samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
            cpu_samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
            totals: list[float] = []
            cpu_totals: list[float] = []
            for run in range(args.runs + 1):
                times = CpuStageTimes()
                png = remove_background(data, JobOptions(), segmenter, times)
                if store is not None:
                    with times.stage("upload"):
                        store.put(f"bench/{uuid.uuid4()}.png", png, PNG)
                shadow_times = CpuStageTimes()
                remove_background(data, JobOptions(shadow=ShadowOptions()), segmenter, shadow_times)
                if run == 0:
                    continue  # warm-up: first-touch allocations, connection set-up
                for stage in STAGES:
                    source = shadow_times if stage == "shadow" else times
                    samples[stage].append(source.seconds.get(stage, 0.0))
                    cpu_samples[stage].append(source.cpu.get(stage, 0.0))
                totals.append(sum(times.seconds.values()))
                cpu_totals.append(sum(times.cpu.values()))
            medians = {stage: round(median(values) * 1000, 1) for stage, values in samples.items()}
            total = round(median(totals) * 1000, 1)
            cpu = {stage: round(median(values) * 1000, 1) for stage, values in cpu_samples.items()}
            cpu_total = round(median(cpu_totals) * 1000, 1)
            inference = medians["inference"]
            row = {
                "photo": photo.label(),
                "megapixels": round(photo.megapixels, 2),
                "input_bytes": len(data),
                "output_bytes": len(png),
                "median_ms": medians,
                "total_ms": total,
                "total_over_inference": round(total / inference, 2),
                "non_inference_share": round(1 - inference / total, 3),
                "total_with_shadow_ms": round(total + medians["shadow"], 1),
                "cpu_median_ms": cpu,
                "cpu_total_ms": cpu_total,
                "cpu_non_inference_share": round(1 - cpu["inference"] / cpu_total, 3),
            }
            rows.append(row)
            print(
                f"{photo.megapixels:5.1f} MP  total {total:8.1f} ms  ÷inference "
                f"{row['total_over_inference']:5.2f}  "
                + " ".join(f"{stage}={ms:.0f}" for stage, ms in medians.items())
            )
    write_result(
        args.name or "stages" + RESULT_SUFFIX[args.device],
        {
            "command": " ".join(["bench/stages.py", *sys.argv[1:]]),
            "runs": args.runs,
            "device": device,
            "note": "total = every stage of a job without shadow (shadow timed on a second pass)",
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
