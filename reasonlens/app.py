"""The application factory: one FastAPI app serving OTLP, the API and (later) the dashboard.

Its lifespan owns every long-lived worker (engines, SQLite maintenance, the runaway
detector, the alert checker and webhook sender, the CSV export worker, the ingest
service and the OTLP/gRPC receiver) on one exit stack, stopped in reverse order.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

import migrations
from collector.limits import Limits
from collector.otlp_grpc import GrpcReceiver
from collector.otlp_http import router as otlp_router
from collector.redact import parse_patterns
from collector.runaway import RunawayDetector
from collector.service import IngestService
from evals.alerts.delivery import AlertDelivery
from evals.alerts.project import ProjectRuleChecker
from evals.scheduler import Scheduler
from evals.worker import JobWorker
from reasonlens.periodic_tasks import start_periodic_tasks
from reasonlens.settings import Settings
from store.engine import create_engine, is_sqlite
from store.maintenance import WRITER_AUTOCHECKPOINT_PAGES, SqliteMaintenance
from store.principals import Credentials
from web import errors
from web.access import AccessMiddleware, authorize, check_routes
from web.api import router as api_router
from web.exports.export_worker import ExportWorker
from web.headers import SecurityHeaders
from web.pages import router as pages_router
from web.pages.login import router as login_router
from web.sign_in_guard import SignInGuard
from web.templating import STATIC_DIR


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        url, synchronous = settings.database_url, settings.sqlite_synchronous
        engine = create_engine(url, sqlite_synchronous=synchronous, pool_size=settings.db_pool_size)
        if settings.migrate_on_start:
            migrations.upgrade(engine)
        sqlite = is_sqlite(url)
        # The writer gets its own engine: on SQLite its connections leave checkpoints
        # to the maintenance thread, so a commit never waits for one.
        writer_engine = (
            create_engine(
                url,
                sqlite_synchronous=synchronous,
                sqlite_wal_autocheckpoint=WRITER_AUTOCHECKPOINT_PAGES,
                sqlite_cache_mib=32,
            )
            if sqlite
            else engine
        )
        detector = RunawayDetector(
            engine,
            factor=settings.runaway_factor,
            min_traces=settings.runaway_min_traces,
            refresh_seconds=settings.runaway_refresh_seconds,
        )
        ingest = IngestService(
            writer_engine,
            workers=settings.ingest_workers,
            limits=Limits(
                max_body_bytes=settings.max_body_bytes,
                max_items=settings.max_spans_per_request,
                max_attributes=settings.max_attributes_per_span,
                max_value_bytes=settings.max_attribute_value_bytes,
                max_value_depth=settings.max_value_depth,
            ),
            max_queue_spans=settings.write_queue_spans,
            max_batch_spans=settings.write_batch_spans,
            on_commit=detector.on_commit,
            redaction=parse_patterns(settings.redact_patterns),
        )
        credentials = Credentials(engine, ttl_s=settings.credentials_ttl_seconds)
        async with AsyncExitStack() as stack:
            stack.callback(engine.dispose)
            stack.callback(writer_engine.dispose)
            if sqlite:
                maintenance = SqliteMaintenance(engine)
                maintenance.start()
                stack.callback(maintenance.stop)
            detector.start()
            stack.callback(detector.stop)
            scheduler = Scheduler(
                engine,
                interval_s=settings.scheduler_interval_seconds,
                max_attempts=settings.job_max_attempts,
            )
            scheduler.start()
            stack.callback(scheduler.stop)
            start_periodic_tasks(engine, settings, stack)
            for _ in range(settings.eval_workers):
                worker = JobWorker(
                    engine,
                    lease_s=settings.job_lease_seconds,
                    poll_s=settings.worker_poll_seconds,
                    max_attempts=settings.job_max_attempts,
                )
                worker.start()
                stack.callback(worker.stop)
            checker = ProjectRuleChecker(engine, settings.alert_check_seconds)
            checker.start()
            stack.callback(checker.stop)
            delivery = AlertDelivery(
                engine,
                public_url=settings.dashboard_url,
                max_attempts=settings.alert_max_attempts,
                retry_seconds=settings.alert_retry_seconds,
                timeout_seconds=settings.alert_webhook_timeout_seconds,
                poll_seconds=settings.alert_poll_seconds,
                policy=settings.webhook_policy,
            )
            delivery.start()
            stack.callback(delivery.stop)
            # The long CSV exports of a SQLite file, in a process of their own (started
            # at the first one); stopped before the engines are disposed of.
            export_worker = None
            if sqlite and engine.url.database not in (None, "", ":memory:"):
                export_worker = ExportWorker(os.path.abspath(engine.url.database))
                export_worker.start()
                stack.callback(export_worker.stop)
            # Started last, stopped first: stopping ingest commits whatever is queued
            # while the maintenance thread and the engines are still there.
            ingest.start()
            stack.callback(ingest.stop)
            if settings.grpc_port:
                grpc_receiver = GrpcReceiver(
                    ingest,
                    credentials,
                    host=settings.host,
                    port=settings.grpc_port,
                    max_message_bytes=settings.max_body_bytes,
                    retry_after_seconds=settings.retry_after_seconds,
                )
                grpc_receiver.start(asyncio.get_running_loop())
                stack.push_async_callback(grpc_receiver.stop)
            yield {
                "settings": settings,
                "engine": engine,
                "ingest": ingest,
                "credentials": credentials,
                "export_worker": export_worker,
                "sign_in_guard": SignInGuard(),
            }

    app = FastAPI(
        title="reasonlens",
        summary="Observability and evaluation for AI agents.",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load their scripts from a CDN; reasonlens
        # serves nothing that needs the internet. The schema stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(otlp_router)
    app.include_router(api_router, dependencies=[Depends(authorize)])
    app.include_router(pages_router, dependencies=[Depends(authorize)])
    app.include_router(login_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    errors.install(app)
    check_routes(app)
    app.add_middleware(AccessMiddleware)
    app.add_middleware(SecurityHeaders)
    # A 5,000-span trace page is ~1.8 MB of HTML and ~120 KB gzipped. OTLP bodies are
    # unaffected (their responses are tiny, below the minimum size). CSV exports go out
    # as they are: gzip (level 9) cost more CPU than writing the CSV (bench/csv_export.py).
    app.add_middleware(
        GZipMiddleware,
        minimum_size=4096,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "text/csv"),
    )
    return app
