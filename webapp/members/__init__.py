"""The Members page: list, search, edit, remove and restore a team's members."""
import datetime as dt
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from htmx_flask import request as htmx_request
from peewee import ModelSelect, fn
from playhouse.flask_utils import get_object_or_404

from webapp import membership
from webapp.auth import sessions
from webapp.db import database
from webapp.events import record_event
from webapp.members.forms import validate_member
from webapp.engine.team_side import load_leader_ids
from webapp.models import Team, TeamLeader, User, utcnow
from webapp.paging import page_arg, page_of
from webapp.search import name_or_email_contains, search_arg
from webapp.teams import leader_required

bp = Blueprint("members", __name__, url_prefix="/teams/<id:team_id>/members")

RESTORE_DAYS = 30
NOT_OWNED_EMAIL = ("Only the sign-in email of an account this team's sync created or adopted, and that leads no "
                   "team, can be changed here.")


def owns_account(team: Team, member: User) -> bool:
    """Whether account-wide fields (sign-in email, active) of a member are the team's to change: this team's
    sync created or adopted the account, and it leads no team."""
    return (member.synced_by_team_id == team.id
            and not TeamLeader.select().where(TeamLeader.user == member.id).exists())


def member_query(team: Team, search: str) -> ModelSelect:
    query = User.select().where((User.team == team) & (User.active == True))  # noqa: E712
    if search:
        query = query.where(name_or_email_contains(search))
    return query


def page_of_members(team: Team, search: str, page: int) -> dict[str, Any]:
    """One page of members in SQL, plus the total.

    A search is ordered by the lower-cased name: that keeps the database on the search index
    (then a small sort) instead of walking the whole team in name order.
    """
    per_page = current_app.config["MEMBERS_PER_PAGE"]
    query = member_query(team, search)
    total = query.count() if search else membership.team_size(current_app.extensions["redis"], team.id)
    order = (fn.LOWER(User.name), User.id) if search else (User.name, User.id)
    paged = page_of(query.order_by(*order), page, per_page, total)
    return {"members": paged.pop("rows"), **paged, "search": search}


def _page_args() -> tuple[str, int]:
    return search_arg(), page_arg()


def _member_or_404(team: Team, user_id: int) -> User:
    return get_object_or_404(User, (User.id == user_id) & (User.team == team) & (User.active == True))  # noqa: E712


@bp.get("/")
@leader_required
def index(team: Team) -> str:
    search, page = _page_args()
    context = page_of_members(team, search, page)
    context.update(team=team, leaders=load_leader_ids(team.id))
    if htmx_request.htmx and htmx_request.htmx.target == "member-list":
        return render_template("members/_list.html", **context)
    return render_template("members/index.html", **context)


@bp.get("/<id:user_id>")
@leader_required
def row(team: Team, user_id: int) -> str:
    return render_template("members/_row.html", team=team, member=_member_or_404(team, user_id),
                           leaders=load_leader_ids(team.id))


@bp.get("/<id:user_id>/edit")
@leader_required
def edit(team: Team, user_id: int) -> str:
    member = _member_or_404(team, user_id)
    return render_template("members/_edit_row.html", team=team, member=member, values=member.__data__, errors={})


@bp.post("/<id:user_id>")
@leader_required
def update(team: Team, user_id: int) -> ResponseReturnValue:
    member = _member_or_404(team, user_id)
    values, errors = validate_member(request.form, member)
    if "email" not in errors and values["email"] != member.email and not owns_account(team, member):
        errors["email"] = NOT_OWNED_EMAIL
    if errors:
        return render_template("members/_edit_row.html", team=team, member=member, values=values, errors=errors), 422
    changed = [field for field, value in values.items() if value != getattr(member, field)]
    User.update(**values).where(User.id == member.id).execute()
    membership.changed(current_app.extensions["redis"], team.id)
    record_event("member_edited", team.id, detail=f"{member.email}: {', '.join(changed) or 'nothing'} changed")
    member = User.get_by_id(member.id)
    return render_template("members/_row.html", team=team, member=member, leaders=load_leader_ids(team.id),
                           saved=True)


@bp.post("/<id:user_id>/remove")
@leader_required
def remove(team: Team, user_id: int) -> ResponseReturnValue:
    member = _member_or_404(team, user_id)
    if member.id in load_leader_ids(team.id):
        return render_template("members/_row.html", team=team, member=member, leaders=load_leader_ids(team.id),
                               row_error="A team leader cannot be removed from the team."), 422
    values: dict[Any, Any] = {User.team: None, User.removed_at: utcnow(), User.removed_from_team: team}
    kept_active = not owns_account(team, member)
    if not kept_active:
        values[User.active] = False
    with database.atomic():
        User.update(values).where(User.id == member.id).execute()
        if not kept_active:
            sessions.end_all([member.id])
    membership.changed(current_app.extensions["redis"], team.id)
    record_event("member_removed", team.id,
                 detail=member.email + ("" if kept_active else " (account deactivated)"))
    if htmx_request.htmx:
        return render_template("members/_removed_row.html", team=team, member=member, kept_active=kept_active)
    return redirect(url_for("members.index", team_id=team.id), code=303)


def removed_query(team: Team) -> ModelSelect:
    since = utcnow() - dt.timedelta(days=RESTORE_DAYS)
    return User.select().where((User.removed_from_team == team) & (User.team.is_null())
                               & (User.removed_at >= since)).order_by(User.removed_at.desc())


@bp.get("/removed")
@leader_required
def removed(team: Team) -> str:
    paged = page_of(removed_query(team), page_arg(), current_app.config["MEMBERS_PER_PAGE"])
    return render_template("members/removed.html", team=team, members=paged.pop("rows"), **paged)


@bp.post("/<id:user_id>/restore")
@leader_required
def restore(team: Team, user_id: int) -> ResponseReturnValue:
    with database.atomic():
        restored = User.update(team=team, active=True, removed_at=None, removed_from_team=None).where(
            (User.id == user_id) & (User.id.in_(removed_query(team).select(User.id)))).execute()
    if not restored:
        abort(404)
    membership.changed(current_app.extensions["redis"], team.id)
    record_event("member_restored", team.id, detail=User.get_by_id(user_id).email)
    return redirect(url_for("members.removed", team_id=team.id), code=303)
