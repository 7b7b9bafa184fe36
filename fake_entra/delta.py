"""Delta queries for users and groups, driven by each tenant's change log."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fake_entra.directory import GROUP_PROPERTIES, USER_DEFAULT_SELECT, USER_PROPERTIES, Tenant
from fake_entra.odata import GraphError, Snapshot, parse_filter

if TYPE_CHECKING:
    from fake_entra.graph import Call

MEMBER_SLICE = 500
MAX_FILTERED_IDS = 50  # "There is a limit of 50 filtered objects" (user: delta, group: delta)
SYNC_STATE_NOT_FOUND = "The sync state generation is not found or has expired. Please start a new full sync."


def encode_token(tenant: Tenant, generation: str, seq: int) -> str:
    """An opaque delta token naming a tenant, a directory generation and a log position."""
    return base64.urlsafe_b64encode(f"{tenant.id}:{generation}:{seq}".encode()).decode().rstrip("=")


def start_position(call: Call) -> int | None:
    """The log position of a $deltatoken (None for an initial round), or 400 syncStateNotFound."""
    token = call.request.args.get("$deltatoken")
    if token is None:
        return None
    tenant = call.tenant
    if token == "latest":
        return len(tenant.log)
    try:
        tenant_id, generation, seq = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        position = int(seq)
    except (ValueError, UnicodeDecodeError):
        position, tenant_id, generation = -1, "", ""
    if (tenant_id != tenant.id or generation != call.generation
            or not tenant.delta_floor <= position <= len(tenant.log)):
        raise GraphError(400, "syncStateNotFound", SYNC_STATE_NOT_FOUND)
    return position


def select_of(call: Call, allowed: tuple[str, ...]) -> list[str] | None:
    """The $select of a delta request, validated."""
    raw = call.request.args.get("$select")
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        if name not in allowed:
            raise GraphError(400, "Request_BadRequest", f"Could not find a property named '{name}'.")
    return names


def preferences(call: Call) -> dict[str, str]:
    """The Prefer header's name=value parts, names in lower case."""
    found = {}
    for part in call.request.headers.get("Prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        found[name.strip().lower()] = value.strip()
    return found


def page_size(call: Call) -> int:
    """Honour Prefer: odata.maxpagesize=N like Graph; default 200 entries per page."""
    value = preferences(call).get("odata.maxpagesize", "")
    return max(1, min(int(value), 999)) if value.isdigit() else 200


def finish(call: Call, entries: list[dict], fragment: str, select: list[str] | None) -> Snapshot:
    """Freeze delta entries with the deltaLink for the last page."""
    tenant = call.tenant
    args = [(k, v) for k, v in call.request.args.items(multi=True) if k not in ("$deltatoken", "$skiptoken")]
    args.append(("$deltatoken", encode_token(tenant, call.generation, len(tenant.log))))
    link = f"{call.base_url}{call.request.path.split('/v1.0', 1)[1]}?{urlencode(args, safe='$,')}"
    return Snapshot(tenant.id, entries, call.context(fragment, select) + "/delta",
                    {"top": page_size(call), "render": lambda entry: entry, "delta_link": link})


def users_snapshot(call: Call) -> Snapshot:
    """All users, or the users changed and removed since the token; $filter=id eq '…' narrows both.

    In rounds after the first an entry leaves out the properties that were never set, and with
    Prefer: return=minimal it holds only the properties that changed since the token (user: delta)."""
    select = select_of(call, USER_PROPERTIES)
    names = list(select or USER_DEFAULT_SELECT)
    if "id" not in names:
        names.append("id")
    tenant = call.tenant
    wanted = filtered_ids(call)
    start = start_position(call)
    if start is None:
        entries = [{n: u.get(n) for n in names} for u in tenant.users.values() if wanted is None or u["id"] in wanted]
        return finish(call, entries, "users", select)
    changed: dict[str, set[str] | None] = {}
    removed: dict[str, str] = {}
    for event in tenant.log[start:]:
        if event[0] not in ("user", "user-") or (wanted is not None and event[1] not in wanted):
            continue
        if event[0] == "user-":
            changed.pop(event[1], None)
            removed[event[1]] = event[2]
        elif event[1] not in changed or changed[event[1]] is not None:
            removed.pop(event[1], None)
            changed[event[1]] = None if event[2] is None else (changed.get(event[1]) or set()) | event[2]
    minimal = preferences(call).get("return") == "minimal"
    entries = []
    for object_id, properties in changed.items():
        user = tenant.users.get(object_id)
        if user is None:
            continue
        shown = tenant.assigned[object_id]
        if minimal and properties is not None:
            shown = shown & properties
        entries.append({n: user.get(n) for n in names if n == "id" or n in shown})
    entries.extend({"id": object_id, "@removed": {"reason": reason}} for object_id, reason in removed.items())
    return finish(call, entries, "users", select)


def group_entries(group: dict, names: list[str], members: list[dict] | None) -> list[dict]:
    """One group as delta entries; a large member list is split over several entries."""
    base = {n: group.get(n) for n in names}
    base["id"] = group["id"]
    if members is None:
        return [base]
    slices = [members[i:i + MEMBER_SLICE] for i in range(0, len(members), MEMBER_SLICE)] or [[]]
    return [{**base, "members@delta": part} for part in slices]


def filtered_ids(call: Call) -> set[str] | None:
    """Object ids named by $filter=id eq '...' [or id eq '...'], the one filter delta takes, at most 50 of them."""
    raw = call.request.args.get("$filter")
    if raw is None:
        return None
    alternatives = parse_filter(raw, ("id",))
    if any(len(group) != 1 or group[0][0] != "eq" for group in alternatives):
        raise GraphError(400, "Request_UnsupportedQuery", "Unsupported filter for delta query: use id eq '...'.")
    if len(alternatives) > MAX_FILTERED_IDS:
        raise GraphError(400, "Request_UnsupportedQuery",
                         f"Too many objects in the delta filter: {len(alternatives)}. Max allowed: {MAX_FILTERED_IDS}.")
    return {group[0][2] for group in alternatives}


def groups_snapshot(call: Call) -> Snapshot:
    """All groups with direct members, or the changes since the token (direct membership only)."""
    select = select_of(call, GROUP_PROPERTIES + ("members",))
    with_members = select is None or "members" in select
    names = [n for n in (select or GROUP_PROPERTIES) if n != "members"]
    tenant = call.tenant
    wanted = filtered_ids(call)
    start = start_position(call)
    entries: list[dict] = []
    if start is None:
        for group_id, group in tenant.groups.items():
            if wanted is not None and group_id not in wanted:
                continue
            members = [{"@odata.type": kind, "id": member_id} for member_id, kind in tenant.members[group_id].items()]
            entries.extend(group_entries(group, names, members if with_members else None))
        return finish(call, entries, "groups", select)
    touched: dict[str, dict[str, tuple[str, bool]]] = {}
    removed: dict[str, str] = {}
    for event in tenant.log[start:]:
        if wanted is not None and len(event) > 1 and event[1] not in wanted:
            continue
        if event[0] == "group":
            touched.setdefault(event[1], {})
        elif event[0] in ("member+", "member-"):
            touched.setdefault(event[1], {})[event[2]] = (event[3], event[0] == "member+")
        elif event[0] == "group-":
            removed[event[1]] = event[2]
    for group_id, changes in touched.items():
        group = tenant.groups.get(group_id)
        if group is None:
            continue
        members = [{"@odata.type": kind, "id": member_id} if added else
                   {"@odata.type": kind, "id": member_id, "@removed": {"reason": "deleted"}}
                   for member_id, (kind, added) in changes.items()]
        entries.extend(group_entries(group, names, members if with_members and members else None))
    entries.extend({"id": group_id, "@removed": {"reason": reason}} for group_id, reason in removed.items())
    return finish(call, entries, "groups", select)
