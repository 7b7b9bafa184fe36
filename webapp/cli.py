"""`flask …` commands: schema migration, status, teams, leaders and the encryption key's rotation."""
import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from webapp.db import database
from webapp.migrations import migrate


def register(app: Flask) -> None:
    app.cli.add_command(migrate_command)
    app.cli.add_command(status)
    app.cli.add_command(create_team)
    app.cli.add_command(create_leader)
    app.cli.add_command(set_password)
    app.cli.add_command(rotate_keys)


@click.command("migrate")
def migrate_command() -> None:
    """Bring the database schema up to date (safe to run again)."""
    applied = migrate()
    click.echo(f"Applied migrations {applied}." if applied else "Schema is up to date.")


@click.command("status")
@with_appcontext
def status() -> None:
    """Show the sync queue, the workers, and per team its last run, result, next Auto Sync and failures in a row."""
    from flask import current_app

    from webapp.operations import queue_overview, team_overview

    queue = queue_overview(current_app.extensions["redis"])
    click.echo(f"Queue sync: {queue['waiting']} waiting, {queue['started']} running, "
               f"{queue['failed']} failed jobs kept")
    click.echo(f"Workers: {len(queue['workers'])}")
    for worker in queue["workers"]:
        click.echo(f"  {worker['name']}  {worker['state']}  {worker['job']}".rstrip())
    with database.connection_context():
        teams = team_overview(current_app.config)
    columns = ("id", "name", "last_run", "result", "finished", "next_due", "failures")
    rows: list[tuple[str, ...]] = [
        ("Team", "Name", "Last run", "Result", "Finished", "Next Auto Sync", "Failures in a row")]
    rows += [tuple("" if team[column] is None else str(team[column]) for column in columns) for team in teams]
    widths = [max(len(row[at]) for row in rows) for at in range(len(columns))]
    for row in rows:
        click.echo("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


@click.command("create-team")
@click.argument("name")
def create_team(name: str) -> None:
    """Create a team and print its id."""
    from webapp.models import Team

    with database.connection_context():
        team = Team.create(name=name)
    click.echo(f"Team {team.id}: {team.name}")


@click.command("create-leader")
@click.argument("email")
@click.option("--team", "team_id", type=int, required=True, help="Id of the team to lead.")
@click.option("--name", default="", help="Display name.")
@click.password_option()
def create_leader(email: str, team_id: int, name: str, password: str) -> None:
    """Create (or promote) a user as leader of a team."""
    from webapp.accounts import make_leader
    from webapp.auth.passwords import PasswordPolicyError

    with database.connection_context():
        try:
            user = make_leader(email, team_id, password, name=name)
        except PasswordPolicyError as refused:
            raise click.ClickException(str(refused)) from None
    click.echo(f"{user.email} now leads team {team_id}.")


@click.command("set-password")
@click.argument("email")
@click.password_option()
def set_password(email: str, password: str) -> None:
    """Set a new password for an account; every session of that account ends."""
    from webapp.accounts import set_password as set_account_password
    from webapp.auth.passwords import PasswordPolicyError
    from webapp.events import record_event

    with database.connection_context():
        try:
            user = set_account_password(email, password)
        except PasswordPolicyError as refused:
            raise click.ClickException(str(refused)) from None
        if user is None:
            raise click.ClickException(f"No account has the email {email}.")
        record_event("password_set", user=user, detail="with the set-password command")
    click.echo(f"New password set for {user.email}; all its sessions ended.")


@click.command("rotate-keys")
@with_appcontext
def rotate_keys() -> None:
    """Re-encrypt every stored secret, refresh token and private key with the first key of ENCRYPTION_KEY."""
    from webapp.connections import rotate_stored_secrets

    with database.connection_context():
        try:
            count = rotate_stored_secrets(current_app.extensions["secret_box"])
        except ValueError as refused:
            raise click.ClickException(f"{refused}; nothing was changed.") from None
    click.echo(f"Re-encrypted {count} stored secrets with the first key of ENCRYPTION_KEY; the other keys can go.")
