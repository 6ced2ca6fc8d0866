"""``cutout serve`` and ``cutout worker``: the two long-running processes."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(envvar="CUTOUT_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CUTOUT_PORT")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API processes.")] = 1,
) -> None:
    """Run the HTTP API."""
    import uvicorn

    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=30,
        access_log=False,
        log_config=None,  # keep the structured logging `cutout` configured
    )


def worker(
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Jobs at once (default CUTOUT_WORKER_CONCURRENCY).")
    ] = None,
    gpu: Annotated[
        int | None,
        typer.Option(min=0, help="Pin to this CUDA device and consume the GPU queue."),
    ] = None,
    loglevel: str = "INFO",
) -> None:
    """Run a Celery worker that processes jobs with the segmentation model."""
    import logging
    import os

    from storage.settings import get_settings

    if gpu is not None:
        os.environ["CUTOUT_WORKER_GPU"] = str(gpu)  # read again by the forked job processes
        get_settings.cache_clear()
    from workers.tasks import app, placement

    settings = get_settings()
    where = placement()
    logging.getLogger("cutout.worker").info("%s; consuming %s", where.note, ", ".join(where.queues))
    app.worker_main(
        [
            "worker",
            f"--loglevel={loglevel}",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            "--pool=prefork",
            f"--queues={','.join(where.queues)}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
