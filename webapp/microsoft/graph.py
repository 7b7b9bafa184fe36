"""Microsoft Graph v1.0 reads the portal needs: groups, group users, users and delta rounds."""

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import requests

from .errors import (DeltaExpired, GroupNotFound, IncompleteListing, MicrosoftError, PermissionDenied, TokenRejected,
                     UnexpectedResponse, graph_error_code, parse_json)
from .http import RetryPolicy, Transport
from .tokens import TokenProvider
from .users import USER_FIELDS, EntraUser, to_entra_user

GROUP_FIELDS = ("id", "displayName", "description", "mail", "groupTypes", "securityEnabled")
GROUP_DELTA_FIELDS = ("displayName", "members")
GROUP_TYPE = "#microsoft.graph.group"
MICROSOFT_365 = "Unified"  # in groupTypes: a Microsoft 365 group, which holds users only
MAX_PAGE_SIZE = 999
IDS_PER_FILTER = 15  # `id eq` clauses per $filter: Graph caps the clauses of one filter
# A counted listing may come up short of its `@odata.count` by this share (the count and the listing are read from
# an index that converges within seconds); below 1,000 entries it must be exact.
LISTING_SHORTFALL = 0.001

READ_GROUPS = "GroupMember.Read.All"
READ_GROUP_USERS = "GroupMember.Read.All and User.Read.All"
READ_USERS = "User.Read.All"
READ_GROUP_CHANGES = "GroupMember.Read.All"


@dataclass(frozen=True)
class DeltaResult:
    """Everything one delta round reported, and the link that starts the next round."""

    items: list[dict[str, Any]]
    delta_link: str


def _id_filters(object_ids: Iterable[str]) -> Iterator[str]:
    """`id eq '…' or …` filters naming every id, a few per filter."""
    object_ids = list(object_ids)
    for start in range(0, len(object_ids), IDS_PER_FILTER):
        yield " or ".join("id eq '{}'".format(object_id.replace("'", "''"))
                          for object_id in object_ids[start:start + IDS_PER_FILTER])


def _search_term(query: str) -> str:
    """The query without double quotes and backslashes: no escape is documented, and tokenized search ignores them."""
    return " ".join(query.replace('"', " ").replace("\\", " ").split())


class GraphClient:
    """Reads Microsoft Graph with one token provider; `request_count` counts every HTTP attempt made."""

    def __init__(self, graph_url: str, token_provider: TokenProvider, session: requests.Session | None = None, *,
                 transport: Transport | None = None, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 timeout: tuple[float, float] = (5.0, 60.0)) -> None:
        self.graph_url = graph_url.rstrip("/")
        self.token_provider = token_provider
        self.transport = transport or Transport(session, retry=retry, sleep=sleep, clock=clock,
                                                timeout=timeout)

    @property
    def request_count(self) -> int:
        """Graph HTTP requests made so far, retries included."""
        return self.transport.request_count

    @property
    def throttled_count(self) -> int:
        """How many of those Microsoft answered 429 (throttled)."""
        return self.transport.throttled_count

    def search_groups(self, query: str | None, limit: int = 25) -> list[dict[str, Any]]:
        """Up to `limit` groups ordered by name whose name has a word starting with `query` (all if empty)."""
        params = {
            "$select": ",".join(GROUP_FIELDS),
            "$orderby": "displayName",
            "$count": "true",
            "$top": max(1, min(int(limit), MAX_PAGE_SIZE)),
        }
        term = _search_term(query or "")
        # $search rather than startswith(): leaders type any word of a name ("sales" finds "EMEA Sales").
        if term:
            params["$search"] = f'"displayName:{term}"'
        body = self._get(self._url("/groups", params), permission=READ_GROUPS, eventual=True)
        return self._value(body)

    def get_group(self, group_id: str) -> dict[str, Any]:
        """One group's id, displayName, description, mail, groupTypes and securityEnabled."""
        path = f"/groups/{quote(group_id, safe='')}"
        return self._get(self._url(path, {"$select": ",".join(GROUP_FIELDS)}),
                         permission=READ_GROUPS, group_id=group_id)

    def iter_group_user_pages(self, group_id: str,
                              fields: tuple[str, ...] = USER_FIELDS) -> Iterator[list[dict[str, Any]]]:
        """Pages of the group's users, nested groups flattened; raises rather than ending early."""
        path = f"/groups/{quote(group_id, safe='')}/transitiveMembers/microsoft.graph.user"
        params = {"$select": ",".join(fields), "$top": MAX_PAGE_SIZE, "$count": "true"}
        for body in self._pages(self._url(path, params), permission=READ_GROUP_USERS,
                                group_id=group_id, eventual=True):
            yield self._users(body, fields)

    def fetch_group_users(self, group_id: str) -> list[EntraUser]:
        """Every user of the group as `EntraUser`s: a complete list or an exception."""
        return [to_entra_user(user) for page in self.iter_group_user_pages(group_id) for user in page]

    def nested_group_ids(self, group_id: str) -> list[str]:
        """The ids of every group nested in the group, at any depth; none in a Microsoft 365 group, which Graph
        refuses to be asked (400 Request_UnsupportedQuery: it cannot hold groups)."""
        path = f"/groups/{quote(group_id, safe='')}/transitiveMembers/microsoft.graph.group"
        params = {"$select": "id", "$top": MAX_PAGE_SIZE, "$count": "true"}
        try:
            return [group["id"] for body in self._pages(self._url(path, params), permission=READ_GROUPS,
                                                        group_id=group_id, eventual=True)
                    for group in self._value(body)
                    if isinstance(group, dict) and group.get("@odata.type", GROUP_TYPE) == GROUP_TYPE]
        except UnexpectedResponse as exc:
            if exc.status == 400 and MICROSOFT_365 in (self.get_group(group_id).get("groupTypes") or ()):
                return []
            raise

    def get_users(self, user_ids: Iterable[str], fields: tuple[str, ...] = USER_FIELDS) -> list[dict[str, Any]]:
        """The users with these ids that still exist, as Graph dicts, a few ids per request."""
        found: list[dict[str, Any]] = []
        for clauses in _id_filters(user_ids):
            params = {"$select": ",".join(fields), "$filter": clauses, "$top": MAX_PAGE_SIZE}
            for body in self._pages(self._url("/users", params), permission=READ_USERS):
                found.extend(self._users(body, fields))
        return found

    def search_users(self, query: str | None, limit: int = 10) -> list[dict[str, Any]]:
        """Up to `limit` users of the tenant, by name, whose name, email or sign-in name has words starting with
        the words of `query`."""
        term = _search_term(query or "")
        if not term:
            return []
        params = {
            "$select": ",".join(USER_FIELDS),
            "$search": " OR ".join(f'"{name}:{term}"' for name in ("displayName", "mail", "userPrincipalName")),
            "$orderby": "displayName",
            "$count": "true",
            "$top": max(1, min(int(limit), MAX_PAGE_SIZE)),
        }
        body = self._get(self._url("/users", params), permission=READ_USERS, eventual=True)
        return self._users(body, USER_FIELDS)

    def get_user(self, user_id: str, fields: tuple[str, ...] = USER_FIELDS) -> dict[str, Any] | None:
        """One user as a Graph dict, or None when the tenant has no such user."""
        path = f"/users/{quote(user_id, safe='')}"
        try:
            body = self._get(self._url(path, {"$select": ",".join(fields)}), permission=READ_USERS)
        except UnexpectedResponse as exc:
            if exc.status == 404:
                return None
            raise
        return self._users({"value": [body]}, fields)[0]

    def user_groups(self, user_id: str) -> dict[str, str]:
        """{id: displayName} of the groups that hold the user directly (read from the directory itself, not the
        lagging index behind advanced queries)."""
        path = f"/users/{quote(user_id, safe='')}/memberOf"
        params = {"$select": "id,displayName", "$top": MAX_PAGE_SIZE}
        groups: dict[str, str] = {}
        for body in self._pages(self._url(path, params), permission=READ_GROUP_USERS):
            for entry in self._value(body):
                if not isinstance(entry, dict) or entry.get("@odata.type") != GROUP_TYPE:
                    continue  # directory roles and administrative units hold users too
                if isinstance(entry.get("id"), str):
                    groups[entry["id"]] = entry.get("displayName") or ""
        return groups

    def iter_users_pages(self, fields: tuple[str, ...] = USER_FIELDS) -> Iterator[list[dict[str, Any]]]:
        """Pages of all users of the tenant."""
        params = {"$select": ",".join(fields), "$top": MAX_PAGE_SIZE}
        for body in self._pages(self._url("/users", params), permission=READ_USERS):
            yield self._users(body, fields)

    def users_delta(self, delta_link: str | None = None, fields: tuple[str, ...] = USER_FIELDS,
                    latest: bool = False) -> DeltaResult:
        """One delta round over users: the changes since `delta_link` (all users when None; none, only the
        link that starts tracking from now, when `latest`)."""
        params = {"$select": ",".join(fields)}
        if latest:
            params["$deltatoken"] = "latest"
        url = delta_link or self._url("/users/delta", params)
        return self._delta(url, permission=READ_USERS, merge=False)

    def groups_delta(self, delta_link: str | None = None, group_ids: Iterable[str] | None = None,
                     latest: bool = False) -> DeltaResult:
        """One delta round over groups (direct members only), each group's `members@delta` slices merged;
        `latest` skips to a link that tracks changes from now."""
        params = {"$select": ",".join(GROUP_DELTA_FIELDS)}
        if group_ids:
            params["$filter"] = " or ".join("id eq '{}'".format(group_id.replace("'", "''")) for group_id in group_ids)
        if latest:
            params["$deltatoken"] = "latest"
        url = delta_link or self._url("/groups/delta", params)
        return self._delta(url, permission=READ_GROUP_CHANGES, merge=True)

    def _url(self, path: str, params: Mapping[str, object]) -> str:
        """An absolute Graph URL; OData punctuation stays readable, spaces are %20 (never '+')."""
        return f"{self.graph_url}{path}?{urlencode(params, safe='$,', quote_via=quote)}"

    def _get(self, url: str, *, permission: str, group_id: str | None = None, eventual: bool = False) -> dict[str, Any]:
        """GET a Graph URL and decode it; after a 401 fetch a new token once, then give up."""
        headers = {"Accept": "application/json"}
        if eventual:
            headers["ConsistencyLevel"] = "eventual"
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {self.token_provider.access_token()}"
            response = self.transport.request("GET", url, headers=headers)
            if response.status_code != 401 or attempt == 2:
                break
            self.token_provider.invalidate()
        if response.status_code == 200:
            body = parse_json(response.content)
            if isinstance(body, dict):
                return body
        raise self._error(response, permission, group_id)

    @staticmethod
    def _error(response: requests.Response, permission: str, group_id: str | None) -> MicrosoftError:
        """The typed error for a Graph answer other than 200 with a JSON object."""
        status = response.status_code
        code, request_id = graph_error_code(response.content)
        details: dict[str, Any] = {"code": code, "status": status, "request_id": request_id}
        if status == 401:
            return TokenRejected(**details)
        if status == 403:
            return PermissionDenied(permission, **details)
        if status == 404 and group_id is not None:
            return GroupNotFound(**details)
        if status == 410 or (code or "").lower() in {"syncstatenotfound", "resyncrequired"}:
            return DeltaExpired(**details)
        return UnexpectedResponse(**details)

    def _pages(self, url: str | None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Yield every page body, following `@odata.nextLink` as an opaque URL until it is absent; a counted
        listing that ends short of the `@odata.count` of its first page raises IncompleteListing at the end."""
        reported: int | None = None
        ids: set[str | None] = set()
        while url:
            body = self._get(url, **kwargs)
            value = self._value(body)
            if reported is None:
                count = body.get("@odata.count")
                reported = count if isinstance(count, int) and not isinstance(count, bool) else -1
            if reported >= 0:
                ids.update(entry.get("id") for entry in value if isinstance(entry, dict))
            yield body
            next_url = body.get("@odata.nextLink")
            if next_url is not None and (not isinstance(next_url, str) or next_url == url):
                raise UnexpectedResponse(status=200, code="invalidNextLink")
            url = next_url
        if reported is not None and len(ids) < reported - int(reported * LISTING_SHORTFALL):
            raise IncompleteListing(reported, len(ids))

    @staticmethod
    def _value(body: dict[str, Any]) -> list[Any]:
        """The `value` list of a collection page."""
        value = body.get("value")
        if not isinstance(value, list):
            raise UnexpectedResponse(status=200, code="missingValue")
        return value

    @staticmethod
    def _users(body: dict[str, Any], fields: tuple[str, ...]) -> list[dict[str, Any]]:
        """A page's users; entries without their userPrincipalName mean User.Read.All is missing."""
        users = body["value"]
        if not all(isinstance(user, dict) and isinstance(user.get("id"), str) for user in users):
            raise UnexpectedResponse(status=200, code="invalidUser")
        if "userPrincipalName" in fields and any(user.get("userPrincipalName") is None for user in users):
            raise PermissionDenied(READ_USERS, status=200, code="propertiesHidden")
        return users

    def _delta(self, url: str, *, permission: str, merge: bool) -> DeltaResult:
        """Follow a delta round to its `@odata.deltaLink`; a round without one is an error, not a result."""
        items: list[dict[str, Any]] = []
        positions: dict[str | None, int] = {}
        delta_link = None
        for body in self._pages(url, permission=permission):
            for item in body["value"]:
                if merge and item.get("id") in positions:
                    self._merge_group(items[positions[item["id"]]], item)
                    continue
                positions[item.get("id")] = len(items)
                items.append(dict(item))
            delta_link = body.get("@odata.deltaLink")
        if not isinstance(delta_link, str):
            raise UnexpectedResponse(status=200, code="missingDeltaLink")
        return DeltaResult(items, delta_link)

    @staticmethod
    def _merge_group(merged: dict[str, Any], page_item: dict[str, Any]) -> None:
        """Fold one more page's slice of a group into the group seen earlier in the round."""
        members = merged.get("members@delta", []) + page_item.get("members@delta", [])
        merged.update(page_item)
        if members:
            merged["members@delta"] = members
