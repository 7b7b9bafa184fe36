"""Microsoft Graph v1.0 reads: groups, members, users and delta."""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Callable

from werkzeug.wrappers import Request, Response

from fake_entra import delta
from fake_entra.directory import (
    GROUP_PROPERTIES, GROUP_TYPE, USER_DEFAULT_SELECT, USER_PROPERTIES, USER_TYPE, Tenant, is_unified,
)
from fake_entra.odata import (
    Cursors, GraphError, Query, Snapshot, decode_skiptoken, matches, next_link, order, parse_query,
    require_advanced,
)

GROUP_READ = {"GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
              "Directory.ReadWrite.All"}
USER_READ = {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
MEMBER_PROPERTIES = tuple(dict.fromkeys(USER_PROPERTIES + GROUP_PROPERTIES))
DENIED = "Insufficient privileges to complete the operation."
# A cast to a member type the group cannot hold (a group in a Microsoft 365 group), as Graph answers it.
UNSUPPORTED_CAST = "Invalid search request."


@dataclass
class Call:
    """One authenticated Graph request and what it may see."""

    request: Request
    tenant: Tenant
    claims: dict
    permissions: set[str]
    base_url: str
    cursors: Cursors
    generation: str
    count_only: bool = False

    def require(self, allowed: set[str]) -> None:
        """403 unless the token carries one of the permissions."""
        if not self.permissions & allowed:
            raise GraphError(403, "Authorization_RequestDenied", DENIED)

    def context(self, fragment: str, select: list[str] | None = None) -> str:
        """The @odata.context URL of a response."""
        suffix = f"({','.join(select)})" if select else ""
        return f"{self.base_url}/$metadata#{fragment}{suffix}"


def json_response(body: dict) -> Response:
    """A Graph JSON response."""
    return Response(json.dumps(body), 200, content_type="application/json;odata.metadata=minimal")


def not_found(object_id: str) -> GraphError:
    """Graph's 404 for a well-formed id this tenant does not hold."""
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{object_id}' does not exist or one of its queried reference-property "
                      "objects are not present.")


def project(obj: dict, names) -> dict:
    """The named properties of an object, missing ones as null."""
    return {name: obj.get(name) for name in names}


def paged(call: Call, build: Callable[[], Snapshot]) -> Response:
    """Serve one page of a snapshot listing, creating the snapshot on the first page."""
    if call.count_only:
        return Response(str(len(build().items)), 200, content_type="text/plain")
    token = call.request.args.get("$skiptoken")
    if token:
        decoded = decode_skiptoken(token)
        snapshot = call.cursors.get(decoded[0]) if decoded else None
        if (snapshot is None or snapshot.tenant_id != call.tenant.id
                or snapshot.extra.get("path") != call.request.path.lower()):
            raise GraphError(400, "Directory_ExpiredPageToken", "The specified page token value has expired and can "
                                                                "no longer be included in your request.")
        key, offset, page = decoded
    else:
        snapshot = build()
        snapshot.extra["path"] = call.request.path.lower()  # a page token pages only the listing that issued it
        key, offset, page = "", 0, 1
    top, render = snapshot.extra["top"], snapshot.extra["render"]
    end = offset + top
    values = [entry for entry in (render(item) for item in snapshot.items[offset:end]) if entry is not None]
    body = {"@odata.context": snapshot.context}
    if snapshot.extra.get("count"):
        body["@odata.count"] = len(snapshot.items)
    body["value"] = values
    if end < len(snapshot.items):
        key = key or call.cursors.put(snapshot)
        body["@odata.nextLink"] = next_link(call.request, call.base_url.rsplit("/v1.0", 1)[0], key, end, page + 1)
    elif "delta_link" in snapshot.extra:
        body["@odata.deltaLink"] = snapshot.extra["delta_link"]
    return json_response(body)


def user_renderer(call: Call, select: list[str] | None, typed: bool) -> Callable[[str], dict | None]:
    """Turn a user id into its entry; without User.Read.All only id and @odata.type are filled."""
    names = select or USER_DEFAULT_SELECT
    full = bool(call.permissions & USER_READ)
    users = call.tenant.users

    def render(object_id: str) -> dict | None:
        user = users.get(object_id)
        if user is None:
            return None
        entry = {"@odata.type": USER_TYPE} if typed else {}
        if full:
            entry.update(project(user, names))
        else:
            entry.update(dict.fromkeys(names))
            entry["id"] = object_id
        return entry
    return render


def member_renderer(call: Call, select: list[str] | None) -> Callable[[str], dict | None]:
    """Turn any directory object id into a typed entry for member listings."""
    render_user = user_renderer(call, [n for n in select if n in USER_PROPERTIES] if select else None, True)
    tenant = call.tenant

    def render(object_id: str) -> dict | None:
        kind = tenant.member_kind(object_id)
        if kind == USER_TYPE:
            return render_user(object_id)
        if kind == GROUP_TYPE:
            names = [n for n in select if n in GROUP_PROPERTIES] if select else GROUP_PROPERTIES
            return {"@odata.type": GROUP_TYPE, **project(tenant.groups[object_id], names)}
        if kind is None:
            return None
        other = tenant.others[object_id]
        names = select or ("id", "displayName")
        return {"@odata.type": kind, **{n: other[n] for n in names if n in other}, "id": object_id}
    return render


def snapshot(call: Call, objects: list[dict], query: Query, context: str, render) -> Snapshot:
    """Filter, order and freeze a listing."""
    chosen = order([o for o in objects if matches(o, query)], query)
    return Snapshot(call.tenant.id, [o["id"] for o in chosen], context,
                    {"top": query.top, "count": query.count, "render": render})


def list_groups(call: Call) -> Response:
    """GET /groups."""
    call.require(GROUP_READ)

    def build() -> Snapshot:
        query = parse_query(call.request, GROUP_PROPERTIES)
        names = query.select or GROUP_PROPERTIES
        groups = call.tenant.groups
        return snapshot(call, list(groups.values()), query, call.context("groups", query.select),
                        lambda gid: project(groups[gid], names) if gid in groups else None)
    return paged(call, build)


def entity_response(call: Call, collection: str, item: dict, properties: tuple[str, ...],
                    default_select: tuple[str, ...]) -> Response:
    """One object as Graph returns it: its $select'ed properties (or the default ones) under an $entity context."""
    query = parse_query(call.request, properties)
    body = {"@odata.context": call.context(collection, query.select) + "/$entity"}
    body.update(project(item, query.select or default_select))
    return json_response(body)


def get_group(call: Call, group_id: str) -> Response:
    """GET /groups/{id}."""
    call.require(GROUP_READ)
    group = call.tenant.groups.get(group_id)
    if group is None:
        raise not_found(group_id)
    return entity_response(call, "groups", group, GROUP_PROPERTIES, GROUP_PROPERTIES)


def list_members(call: Call, group_id: str, transitive: bool = False, users_only: bool = False,
                 groups_only: bool = False) -> Response:
    """GET /groups/{id}/members, /transitiveMembers and their microsoft.graph.user and .group casts."""
    call.require(GROUP_READ)
    tenant = call.tenant

    def build() -> Snapshot:
        if group_id not in tenant.groups:
            raise not_found(group_id)
        require_advanced(call.request, users_only or groups_only, call.count_only)
        if groups_only and is_unified(tenant.groups[group_id]):
            raise GraphError(400, "Request_UnsupportedQuery", UNSUPPORTED_CAST)
        query = parse_query(call.request, USER_PROPERTIES if users_only else MEMBER_PROPERTIES)
        # Advanced queries read an index that may lag the directory (--index-lag).
        eventual = call.request.headers.get("ConsistencyLevel", "").lower() == "eventual"
        members = tenant.indexed_members() if eventual else tenant.members
        found = tenant.transitive_members(group_id, members) if transitive else dict(members.get(group_id, {}))
        found = {i: kind for i, kind in found.items() if tenant.member_kind(i) is not None}
        if users_only:
            objects = [tenant.users[i] for i, kind in found.items() if kind == USER_TYPE]
            return snapshot(call, objects, query, call.context("users", query.select),
                            user_renderer(call, query.select, False))
        if groups_only:
            objects = [tenant.groups[i] for i, kind in found.items() if kind == GROUP_TYPE]
            return snapshot(call, objects, query, call.context("groups", query.select),
                            member_renderer(call, query.select))
        objects = [tenant.users.get(i) or tenant.groups.get(i) or tenant.others[i] for i in found]
        return snapshot(call, objects, query, call.context("directoryObjects", query.select),
                        member_renderer(call, query.select))
    return paged(call, build)


def list_users(call: Call) -> Response:
    """GET /users."""
    call.require(USER_READ)

    def build() -> Snapshot:
        query = parse_query(call.request, USER_PROPERTIES)
        return snapshot(call, list(call.tenant.users.values()), query, call.context("users", query.select),
                        user_renderer(call, query.select, False))
    return paged(call, build)


def get_user(call: Call, user_id: str) -> Response:
    """GET /users/{id} (by id or userPrincipalName)."""
    if call.claims.get("oid") != user_id:
        call.require(USER_READ)
    tenant = call.tenant
    user = tenant.users.get(user_id) or tenant.users.get(tenant.by_login.get(user_id.lower(), ""))
    if user is None:
        raise not_found(user_id)
    return entity_response(call, "users", user, USER_PROPERTIES, USER_DEFAULT_SELECT)


def list_member_of(call: Call, user_id: str, groups_only: bool = False) -> Response:
    """GET /users/{id or userPrincipalName}/memberOf and its microsoft.graph.group cast: the groups holding the
    user directly (not transitive). Without a group read permission each group is its id and @odata.type only."""
    call.require(USER_READ | GROUP_READ)
    tenant = call.tenant

    def build() -> Snapshot:
        user = tenant.users.get(user_id) or tenant.users.get(tenant.by_login.get(user_id.lower(), ""))
        if user is None:
            raise not_found(user_id)
        require_advanced(call.request, groups_only, call.count_only)
        query = parse_query(call.request, GROUP_PROPERTIES)
        eventual = call.request.headers.get("ConsistencyLevel", "").lower() == "eventual"
        members = tenant.indexed_members() if eventual else tenant.members
        groups = [tenant.groups[group_id] for group_id, held in members.items()
                  if user["id"] in held and group_id in tenant.groups]
        names = query.select or GROUP_PROPERTIES
        readable = bool(call.permissions & GROUP_READ)

        def render(group_id: str) -> dict | None:
            group = tenant.groups.get(group_id)
            if group is None:
                return None
            entry = project(group, names) if readable else {**dict.fromkeys(names), "id": group_id}
            return entry if groups_only else {"@odata.type": GROUP_TYPE, **entry}
        return snapshot(call, groups, query, call.context("groups" if groups_only else "directoryObjects",
                                                          query.select), render)
    return paged(call, build)


def get_me(call: Call) -> Response:
    """GET /me: the signed-in user of a delegated token."""
    if "oid" not in call.claims:
        raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    call.require(USER_READ | {"User.Read", "User.ReadBasic.All"})
    return get_user(call, call.claims["oid"])


def list_organization(call: Call) -> Response:
    """GET /organization: the tenant itself (id, displayName, verifiedDomains)."""
    call.require({"User.Read", "Organization.Read.All", "Directory.Read.All"})
    tenant = call.tenant
    entry = {"id": tenant.id, "displayName": tenant.display_name,
             "verifiedDomains": [{"name": tenant.domain, "isDefault": True, "isInitial": True, "type": "Managed"}]}
    return json_response({"@odata.context": call.context("organization"), "value": [entry]})


def users_delta(call: Call) -> Response:
    """GET /users/delta."""
    call.require(USER_READ)
    return paged(call, lambda: delta.users_snapshot(call))


def groups_delta(call: Call) -> Response:
    """GET /groups/delta."""
    call.require(GROUP_READ)
    return paged(call, lambda: delta.groups_snapshot(call))


ROUTES = {
    "/groups": list_groups,
    "/groups/delta": groups_delta,
    "/groups/{id}": get_group,
    "/groups/{id}/members": list_members,
    "/groups/{id}/members/microsoft.graph.user": lambda c, gid: list_members(c, gid, users_only=True),
    "/groups/{id}/members/microsoft.graph.group": lambda c, gid: list_members(c, gid, groups_only=True),
    "/groups/{id}/transitiveMembers": lambda c, gid: list_members(c, gid, transitive=True),
    "/groups/{id}/transitiveMembers/microsoft.graph.user":
        lambda c, gid: list_members(c, gid, transitive=True, users_only=True),
    "/groups/{id}/transitiveMembers/microsoft.graph.group":
        lambda c, gid: list_members(c, gid, transitive=True, groups_only=True),
    "/me": get_me,
    "/organization": list_organization,
    "/users": list_users,
    "/users/delta": users_delta,
    "/users/{id}": get_user,
    "/users/{id}/memberOf": list_member_of,
    "/users/{id}/memberOf/microsoft.graph.group": lambda c, uid: list_member_of(c, uid, groups_only=True),
}
# Resource units per request (Microsoft's identity and access throttling limits), before the $select/$top
# adjustments.
COSTS = {"/users": 2, "/groups/{id}/members": 3, "/groups/{id}/members/microsoft.graph.user": 3,
         "/groups/{id}/transitiveMembers": 5, "/groups/{id}/transitiveMembers/microsoft.graph.user": 5,
         "/groups/{id}/transitiveMembers/microsoft.graph.group": 5, "/groups/{id}/members/microsoft.graph.group": 3,
         "/users/{id}/memberOf": 2, "/users/{id}/memberOf/microsoft.graph.group": 2}


def resource_units(route: str, request: Request) -> int:
    """The throttling cost Graph would charge for a request."""
    cost = COSTS.get(route, 1)
    if "$select" in request.args:
        cost -= 1
    top = request.args.get("$top", "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    if "$expand" in request.args:
        cost += 1
    return max(cost, 1)
