"""The ``reasonlens`` command line (``keys`` and ``users`` in ``keys_cli.py`` and
``users_cli.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from reasonlens.cli_options import DbOption, cli_settings
from reasonlens.demo.generate import DEFAULT_SEED, DEFAULT_TRACES
from reasonlens.keys_cli import keys_app
from reasonlens.users_cli import users_app

# Each command imports what it runs: the server (its app, the evals, pandas) loads for
# ``serve`` only, so ``keys``, ``users``, ``export`` and ``--help`` start at once.

app = typer.Typer(
    help="reasonlens: observability and evaluation for AI agents.", no_args_is_help=True
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
eval_app = typer.Typer(help="Eval suites: score traces, gate releases.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
dataset_app = typer.Typer(
    help="Datasets: the expected outputs an agent is scored against.", no_args_is_help=True
)
app.add_typer(dataset_app, name="dataset")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[
        int | None, typer.Option(help="HTTP port (default 4318, the OTLP/HTTP port).")
    ] = None,
    grpc_port: Annotated[
        int | None, typer.Option(help="OTLP/gRPC port (default 4317); 0 turns gRPC off.")
    ] = None,
    db: DbOption = None,
    workers: Annotated[int | None, typer.Option(help="Decode worker processes.")] = None,
    insecure: Annotated[
        bool,
        typer.Option(help="Serve beyond 127.0.0.1 with no users, so with no sign-in at all."),
    ] = False,
) -> None:
    """Serve OTLP (HTTP and gRPC) ingest and the API, migrating the database first."""
    settings = cli_settings(
        host=host,
        port=port,
        grpc_port=grpc_port,
        database_url=db,
        ingest_workers=workers,
        insecure=insecure or None,
    )
    from reasonlens.exposure import exposure_problem

    problem = exposure_problem(settings)
    if problem is not None:
        typer.echo(f"reasonlens: {problem}", err=True)
        raise typer.Exit(2)
    typer.echo(f"reasonlens: storing traces in {_display_url(settings.database_url)}")
    typer.echo(
        f"reasonlens: OTLP/HTTP and API on http://{settings.host}:{settings.port} "
        f"(OTEL_EXPORTER_OTLP_ENDPOINT=http://{settings.host}:{settings.port})"
    )
    if settings.grpc_port:
        typer.echo(f"reasonlens: OTLP/gRPC on {settings.host}:{settings.grpc_port}")
    if settings.redact_patterns:
        names = ", ".join(entry.partition("=")[0] for entry in settings.redact_patterns)
        typer.echo(f"reasonlens: masking {names} before anything is stored")
    import uvicorn

    from reasonlens.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
    )


@app.command()
def worker(
    db: DbOption = None,
    poll: Annotated[
        float | None, typer.Option(min=0.01, help="Seconds between looks for a due job.")
    ] = None,
) -> None:
    """Run due eval jobs (scheduled suites, "run now") until stopped with Ctrl-C or TERM.

    Start as many as the evals need; they share the database's job table with the
    servers' own workers, and each job runs once.
    """
    from reasonlens.worker_command import run_worker

    settings = cli_settings(database_url=db, worker_poll_seconds=poll)
    raise typer.Exit(run_worker(settings))


@app.command()
def demo(
    traces: Annotated[int, typer.Option(min=1, help="Traces to generate.")] = DEFAULT_TRACES,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed, the same traffic.")
    ] = DEFAULT_SEED,
    port: Annotated[int, typer.Option(help="HTTP port for OTLP and the API.")] = 4318,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (default: sqlite:///reasonlens-demo.db, recreated on every "
            "run); another database must hold no traces.",
        ),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Keep serving after loading, or exit.")
    ] = True,
) -> None:
    """Load a day of realistic multi-agent traffic into a fresh database and serve it."""
    from reasonlens.demo.command import run_demo  # the OTLP exporter loads only for demo

    raise typer.Exit(run_demo(traces=traces, seed=seed, port=port, db=db, serve=serve))


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Apply pending migrations."""
    import migrations
    from store.engine import create_engine

    settings = cli_settings(database_url=db)
    engine = create_engine(settings.database_url)
    migrations.upgrade(engine)
    typer.echo(f"database at revision {migrations.current_revision(engine)}")


@db_app.command("partition-spans")
def db_partition_spans(
    interval: Annotated[
        str, typer.Option(help="One partition per day, week or month of span start times.")
    ] = "day",
    db: DbOption = None,
) -> None:
    """Partition spans by start time (PostgreSQL), so retention drops old partitions whole.

    Copies every span into the partitioned table in one transaction, holding spans
    locked meanwhile (ingest waits). Running it again changes nothing. Exits 2 on SQLite
    or a bad --interval, changing nothing.
    """
    from reasonlens.partition_command import partition_spans_command

    settings = cli_settings(database_url=db)
    raise typer.Exit(partition_spans_command(interval, settings.database_url))


@app.command()
def reprice(
    since: Annotated[
        str | None,
        typer.Option(help="Model calls since: an age (30d), ISO 8601 or ns (default: all)."),
    ] = None,
    project: Annotated[str | None, typer.Option(help="One project (default: all).")] = None,
    db: DbOption = None,
) -> None:
    """Recompute stored costs at today's prices, in batches, while ingest goes on.

    Exits 0 when done, 2 on a bad --since or an unknown --project.
    """
    from reasonlens.reprice_command import reprice_command

    settings = cli_settings(database_url=db)
    raise typer.Exit(reprice_command(since, project, settings.database_url))


@app.command()
def retention(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Delete traces whose latest span ended this long ago: 30d, 12h, 90m.",
        ),
    ],
    project: Annotated[str | None, typer.Option(help="One project (default: all).")] = None,
    db: DbOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")
    ] = False,
    batch: Annotated[int, typer.Option(min=1, help="Traces deleted per transaction.")] = 1000,
) -> None:
    """Delete old traces with their spans, costs, log records and scores, in batches,
    while ingest goes on.

    Exits 0 when done, 2 on a bad --older-than or an unknown --project (nothing deleted).
    """
    from reasonlens.retention_command import retention_command

    settings = cli_settings(database_url=db)
    raise typer.Exit(
        retention_command(older_than, project, settings.database_url, dry_run=dry_run, batch=batch)
    )


@app.command()
def export(
    kind: Annotated[
        str,
        typer.Argument(
            metavar="KIND", help="What to export: see the list below (the README names each route)."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The CSV file to write.", dir_okay=False)
    ],
    query: Annotated[
        str,
        typer.Argument(
            help="The API route's parameters as a query string, e.g. "
            "'project=default&agent=support', its path id by name ('run_id=12', "
            "'suite_id=3', 'b=12&against=9', 'trace_id=...')."
        ),
    ] = "",
    db: DbOption = None,
) -> None:
    """Write a CSV export (the same file as the dashboard's "Export CSV") to a file.

    KIND: traces, spans, scores, summary, compare, drift, sessions, suites, runs,
    overview, eval-compare, eval-runs, thresholds, run-drift, suite-drift,
    trace-scores, alerts, alert-rules, schedules, budgets, prices, runaways,
    known-good, jobs.

    Exits 0 when written, 2 on an unknown KIND or a bad parameter (nothing is written).
    """
    from reasonlens.export_command import BAD_INPUT, export_command
    from reasonlens.export_kinds import KINDS

    if kind not in KINDS:
        kinds = ", ".join(KINDS)
        typer.echo(f"reasonlens export: KIND is one of {kinds}, not {kind!r}", err=True)
        raise typer.Exit(BAD_INPUT)
    settings = cli_settings(database_url=db)
    raise typer.Exit(export_command(kind, query, output, settings.database_url))


@eval_app.command("run")
def eval_run(
    suite_file: Annotated[
        typer.FileText, typer.Argument(metavar="SUITE.yaml", help="The suite to run.")
    ],
    db: DbOption = None,
) -> None:
    """Run a suite: score its traces, store the run, print a summary.

    Exits 0 when every threshold holds, 1 when one fails or the run could not finish,
    2 when the suite file is bad (the message names the line and field).
    """
    from evals.command import run_suite_file  # pandas loads only for evals

    settings = cli_settings(database_url=db)
    raise typer.Exit(run_suite_file(suite_file.read(), suite_file.name, settings.database_url))


@dataset_app.command("upload")
def dataset_upload(
    name: Annotated[str, typer.Argument(help="The dataset's name: letters, digits, _ . -")],
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="A .csv or .jsonl (.ndjson) file with expected_output, and id or input.",
            dir_okay=False,
        ),
    ],
    project: Annotated[str, typer.Option(help="The dataset's project.")] = "default",
    format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from FILE's suffix).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create a dataset from a file, or replace every item of an existing one.

    Exits 2 when the file is not a dataset (the message names the line), and then
    nothing is changed.
    """
    from evals.dataset_command import upload_file

    settings = cli_settings(database_url=db)
    raise typer.Exit(upload_file(file, name, project, format, settings.database_url))


@dataset_app.command("list")
def dataset_list(
    project: Annotated[str, typer.Option(help="The project to list.")] = "default",
    db: DbOption = None,
) -> None:
    """List a project's datasets with their item counts."""
    from evals.dataset_command import list_command

    settings = cli_settings(database_url=db)
    raise typer.Exit(list_command(project, settings.database_url))


def _display_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
