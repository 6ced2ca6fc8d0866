"""A batch of real photos through the asynchronous API with webhooks, end to end.

Starts its own isolated stack (fresh database, Redis namespace, S3 endpoint, API, model worker,
webhook dispatcher) so it never touches a stack someone else runs, submits one multipart batch
of N photos from the development set (cycled when N > 30), each item with a webhook to a local
receiver that verifies every signature with the Standard Webhooks reference library, and waits
until every job has ended and its webhook arrived. Reports the total time and accounts for every
job (succeeded, or failed and refunded) against the ledger.

    .venv/bin/python bench/batch_100.py [--items 100] [--worker-concurrency 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cutout import devstack  # noqa: E402
from tests.paths import EVAL_DIR  # noqa: E402
from tests.webhook_receiver import running_receiver  # noqa: E402


def photos(count: int) -> list[Path]:
    found = sorted((EVAL_DIR / "images").iterdir())
    if not found:
        raise SystemExit(f"no photos in {EVAL_DIR / 'images'}")
    return [found[i % len(found)] for i in range(count)]


def stack_env(run: str, s3_port: int, receiver_port: int) -> dict[str, str]:
    return {
        "CUTOUT_ENVIRONMENT": "test",  # the receiver is on loopback: allowed in test only
        "CUTOUT_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/cutout_bench_{run}",
        "CUTOUT_REDIS_NAMESPACE": f"cutout-bench-{run}",
        "CUTOUT_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
        "CUTOUT_S3_BUCKET": f"cutout-bench-{run}",
        "CUTOUT_API_KEY_SECRET": f"bench-secret-{run}",
        "CUTOUT_OUTBOUND_TEST_ORIGINS": json.dumps([f"127.0.0.1:{receiver_port}"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    run_dir = Path(tempfile.mkdtemp(prefix=f"cutout-bench-{run}-"))
    items = photos(args.items)
    processes = []
    with running_receiver([200]) as receiver:
        receiver_port = int(receiver.url.split(":")[2].split("/")[0])
        s3_port, api_port = devstack.free_port(), devstack.free_port()
        env = stack_env(run, s3_port, receiver_port)
        os.environ.update(env)
        from storage.settings import get_settings

        get_settings.cache_clear()
        settings = get_settings()
        try:
            s3 = devstack.spawn(
                devstack.s3_server_argv(s3_port, run_dir / "s3"), env, run_dir / "s3.log"
            )
            processes.append(s3)
            devstack.wait_until(lambda: devstack.port_open(s3_port), 30, "S3", s3)
            devstack.ensure_database(settings.database_url)
            from storage.migrate import upgrade

            upgrade(settings)
            worker = devstack.spawn(
                devstack.worker_argv(args.worker_concurrency), env, run_dir / "worker.log"
            )
            dispatcher = devstack.spawn(devstack.dispatcher_argv(), env, run_dir / "dispatcher.log")
            api = devstack.spawn(devstack.api_argv(api_port), env, run_dir / "api.log")
            processes += [worker, dispatcher, api]
            devstack.wait_until(
                lambda: devstack.worker_ready(run_dir / "worker.log"), 180, "worker", worker
            )
            devstack.wait_until(
                lambda: devstack.worker_ready(run_dir / "dispatcher.log"),
                60,
                "dispatcher",
                dispatcher,
            )
            url = f"http://127.0.0.1:{api_port}"
            devstack.wait_until(lambda: devstack.http_ok(f"{url}/readyz"), 60, "API", api)
            report = run_batch(url, settings, items, receiver)
            report["worker_concurrency"] = args.worker_concurrency
            print(json.dumps(report, indent=2))
        finally:
            for process in reversed(processes):
                devstack.stop(process)
            devstack.drop_database(settings.database_url)


def run_batch(url: str, settings, items: list[Path], receiver) -> dict:
    from standardwebhooks.webhooks import Webhook

    from storage import api_keys, ledger, tenants
    from storage.db import make_engine, make_sessionmaker, transaction

    credits = len(items) + 10
    sessions = make_sessionmaker(make_engine(settings))
    with transaction(sessions) as session:
        tenant_id = tenants.create_tenant(
            session, f"bench-{uuid.uuid4().hex[:6]}", tenants.Plan(1000, 1000, 1000)
        )
        ledger.grant(session, tenant_id, credits, reason="bench credits")
        key = api_keys.create_key(session, tenant_id, settings.api_key_secret.get_secret_value())
    headers = {"X-API-Key": key}

    with httpx.Client(base_url=url, timeout=600) as client:
        secret = client.get("/v1/webhooks/secrets", headers=headers).json()["secrets"][0]["secret"]
        files = [(f"p{i}", (path.name, path.read_bytes())) for i, path in enumerate(items)]
        upload_mb = sum(len(data) for _, (_, data) in files) / 1e6
        batch_items = [{"image": f"p{i}"} for i in range(len(items))]

        started = time.perf_counter()
        response = client.post(
            "/v1/batches",
            headers=headers,
            data={"items": json.dumps(batch_items), "webhook_url": receiver.url},
            files=files,
        )
        response.raise_for_status()
        accepted_s = time.perf_counter() - started
        batch_id = response.json()["batch_id"]
        job_ids = response.json()["job_ids"]

        # Verify each webhook as it arrives: the library refuses timestamps over 5 min old.
        events: list[dict] = []
        deadline = time.monotonic() + 1800
        while len(events) < len(items) and time.monotonic() < deadline:
            for received in receiver.requests[len(events) :]:
                events.append(Webhook(secret).verify(received.body, received.headers))
            time.sleep(0.1)
        webhooks_s = time.perf_counter() - started
        batch = client.get(f"/v1/batches/{batch_id}", headers=headers).json()
        total_s = time.perf_counter() - started
        announced = {event["data"]["job_id"]: event for event in events}
        balance = client_balance(sessions, tenant_id)

    succeeded = [job for job in batch["jobs"] if job["status"] == "succeeded"]
    failed = [job for job in batch["jobs"] if job["status"] == "failed"]
    return {
        "items": len(items),
        "distinct_photos": len({path.name for path in items}),
        "upload_mb": round(upload_mb, 1),
        "accepted_202_s": round(accepted_s, 2),
        "all_webhooks_received_s": round(webhooks_s, 2),
        "total_s": round(total_s, 2),
        "jobs_per_minute": round(len(items) / webhooks_s * 60, 1),
        "batch_done": batch["done"],
        "succeeded": len(succeeded),
        "failed_and_refunded": len(
            [job for job in failed if job["credits_refunded"] == job["credits_charged"]]
        ),
        "failed_error_codes": sorted({job["error_code"] for job in failed}),
        "unaccounted_jobs": len(items) - len(succeeded) - len(failed),
        "webhook_requests": len(receiver.requests),
        "webhooks_verified": len(events),
        "distinct_webhook_ids": len({r.headers["webhook-id"] for r in receiver.requests}),
        "every_job_announced": set(announced) == set(job_ids),
        "announced_status_matches_job": all(
            announced[job["job_id"]]["data"]["status"] == job["status"] for job in batch["jobs"]
        ),
        "credits": {
            "granted": credits,
            "charged": batch["credits_charged"],
            "refunded": batch["credits_refunded"],
            "balance_after": balance,
            "reconciles": balance == credits - batch["credits_charged"] + batch["credits_refunded"],
        },
    }


def client_balance(sessions, tenant_id) -> int:
    from storage import ledger

    with sessions() as session:
        return ledger.balance(session, tenant_id)


if __name__ == "__main__":
    main()
