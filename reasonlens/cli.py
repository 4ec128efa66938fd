"""The ``reasonlens`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from reasonlens.demo.generate import DEFAULT_SEED, DEFAULT_TRACES
from reasonlens.settings import Settings

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
keys_app = typer.Typer(
    help="API keys: what OTLP exporters and API clients authenticate with.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
users_app = typer.Typer(help="Dashboard users and their role per project.", no_args_is_help=True)
app.add_typer(users_app, name="users")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: REASONLENS_DATABASE_URL or sqlite:///reasonlens.db)."
    ),
]


def _settings(**overrides: object) -> Settings:
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


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
    settings = _settings(
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

    settings = _settings(database_url=db, worker_poll_seconds=poll)
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

    settings = _settings(database_url=db)
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

    settings = _settings(database_url=db)
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

    settings = _settings(database_url=db)
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

    settings = _settings(database_url=db)
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
    settings = _settings(database_url=db)
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

    settings = _settings(database_url=db)
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

    settings = _settings(database_url=db)
    raise typer.Exit(upload_file(file, name, project, format, settings.database_url))


@dataset_app.command("list")
def dataset_list(
    project: Annotated[str, typer.Option(help="The project to list.")] = "default",
    db: DbOption = None,
) -> None:
    """List a project's datasets with their item counts."""
    from evals.dataset_command import list_command

    settings = _settings(database_url=db)
    raise typer.Exit(list_command(project, settings.database_url))


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="The key's project (made if new).")],
    scope: Annotated[
        list[str],
        typer.Option(
            help="ingest, read or admin; repeat for several (--scope ingest --scope read)."
        ),
    ],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'checkout prod'.")] = "key",
    db: DbOption = None,
) -> None:
    """Make a key and print it, once. Exits 2 on a bad scope or project name."""
    from reasonlens.keys_command import create_command

    settings = _settings(database_url=db)
    raise typer.Exit(create_command(project, name, scope, settings.database_url))


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option(help="One project's keys.")] = None,
    db: DbOption = None,
) -> None:
    """List keys (prefix, project, scopes, created, last used, revoked); never the keys."""
    from reasonlens.keys_command import list_command

    settings = _settings(database_url=db)
    raise typer.Exit(list_command(project, settings.database_url))


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (as listed), or the key.")],
    db: DbOption = None,
) -> None:
    """Revoke a key: requests with it get 401 from then on. Exits 2 if there is none."""
    from reasonlens.keys_command import revoke_command

    settings = _settings(database_url=db)
    raise typer.Exit(revoke_command(prefix, settings.database_url))


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The user's email: their sign-in name.")],
    admin: Annotated[bool, typer.Option(help="May administer every project.")] = False,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input, not a prompt.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Make a dashboard user (password: at least 12 characters). Exits 2 on bad input."""
    from reasonlens.users_command import create_command

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings(database_url=db)
    raise typer.Exit(create_command(email, password, admin, settings.database_url))


@users_app.command("grant")
def users_grant(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    project: Annotated[str, typer.Argument(help="The project (made if new).")],
    role: Annotated[str, typer.Argument(help="viewer, editor or admin.")],
    db: DbOption = None,
) -> None:
    """Give a user a role in a project (replacing the one they had there)."""
    from reasonlens.users_command import grant_command

    settings = _settings(database_url=db)
    raise typer.Exit(grant_command(email, project, role, settings.database_url))


@users_app.command("disable")
def users_disable(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    db: DbOption = None,
) -> None:
    """Stop a user signing in, and end their sessions."""
    from reasonlens.users_command import disable_command

    settings = _settings(database_url=db)
    raise typer.Exit(disable_command(email, settings.database_url))


@users_app.command("list")
def users_list(db: DbOption = None) -> None:
    """List users with their roles."""
    from reasonlens.users_command import list_command

    settings = _settings(database_url=db)
    raise typer.Exit(list_command(settings.database_url))


def _display_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
