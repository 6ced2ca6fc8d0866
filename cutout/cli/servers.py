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

    from storage.settings import get_settings

    if workers > 1:  # metrics from every API process, aggregated at /metrics
        from storage import metrics_dir

        metrics_dir.prepare()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=get_settings().shutdown_grace_seconds,
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

    from storage import metrics_dir

    metrics_dir.prepare()  # before prometheus_client is imported (by workers.tasks)
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


def dispatcher(
    beat: Annotated[
        bool, typer.Option(help="Also run Celery beat for the periodic sweep (one is enough).")
    ] = True,
    concurrency: Annotated[int, typer.Option(min=1, help="Deliveries at once.")] = 4,
    loglevel: str = "INFO",
) -> None:
    """Run the Celery worker that delivers webhooks and sweeps (no model is loaded)."""
    from storage.settings import get_settings
    from workers.contract import dispatch_queue
    from workers.dispatcher import app

    settings = get_settings()
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--concurrency={concurrency}",
        "--pool=prefork",
        f"--queues={dispatch_queue(settings.redis_namespace)}",
        "--without-gossip",
        "--without-mingle",
        f"--hostname=dispatcher-{settings.redis_namespace}@%h",
    ]
    if beat:
        argv.append("--beat")
    app.worker_main(argv)


def flower(
    port: Annotated[int, typer.Option(help="Port of the web view.")] = 5555,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",  # noqa: S104
) -> None:
    """Run Flower, the Celery web view, with this stack's broker settings (needs `.[ops]`)."""
    from storage.settings import get_settings
    from workers.celery_app import create_celery

    try:
        import flower as _  # noqa: F401 (only to say what is missing, before Celery does)
    except ImportError:
        raise SystemExit("Flower is not installed: pip install 'cutout[ops]'") from None
    # The key prefix and transport options must match the workers', or Flower sees no queues.
    app = create_celery(get_settings())
    app.start(["flower", f"--port={port}", f"--address={address}"])
