"""Refusing to serve the network without sign-in, unless told to.

On 127.0.0.1 with no users, reasonlens is open (local mode): only this machine can
reach it. Bound to any other address, that would hand every trace to whoever can
reach the port, so ``serve`` refuses until a user exists (which turns sign-in on)
or ``--insecure`` says the open server is meant.
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa

from reasonlens.settings import Settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_problem(settings: Settings) -> str | None:
    """Why ``serve`` must not start as configured, or None."""
    if settings.insecure or is_loopback(settings.host):
        return None
    import migrations
    from store.engine import create_engine
    from store.models import User

    engine = create_engine(settings.database_url)
    try:
        if settings.migrate_on_start:
            migrations.upgrade(engine)
        with engine.connect() as connection:
            try:
                has_user = connection.scalar(sa.select(User.id).limit(1)) is not None
            except sa.exc.DBAPIError:
                has_user = False  # not migrated yet: no users
    finally:
        engine.dispose()
    if has_user:
        return None
    return (
        f"refusing to serve on {settings.host} without sign-in: anyone who can reach it "
        "could read and change every trace. Create an admin first, which turns sign-in "
        "on:\n    reasonlens users create --email EMAIL --admin\nthen give exporters a key:\n"
        "    reasonlens keys create --project PROJECT --name NAME --scope ingest\n"
        "Or serve on 127.0.0.1 (local mode), or pass --insecure to serve it open anyway."
    )
