"""The ``cutout`` command: operators' admin tasks, the servers, and an in-process ``remove``.

Each subcommand imports what it needs when it runs, so ``cutout admin`` never loads a model
and ``cutout serve`` never imports the pipeline.
"""

from __future__ import annotations

import typer

from cutout.cli import admin, models, remove, servers

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Self-hosted background removal."
)
app.add_typer(admin.app, name="admin")
app.add_typer(models.app, name="models")
app.command("serve")(servers.serve)
app.command("worker")(servers.worker)
app.command("dispatcher")(servers.dispatcher)
app.command("flower")(servers.flower)
app.command("remove")(remove.remove)


def main() -> None:
    from storage import logs
    from storage.settings import get_settings

    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    app()
