"""OData query options, Graph error bodies and opaque paging cursors."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from fake_entra.directory import now_iso

SEARCH_NEEDS_HEADER = ("Request with $search query parameter only works through MSGraph with a special "
                       "request header: 'ConsistencyLevel: eventual'")
CLAUSE = re.compile(
    r"\s*(?:startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)"
    r"|(\w+)\s+(eq|ne)\s+('(?:[^']|'')*'|true|false|null))\s*", re.IGNORECASE)
CONNECTOR = re.compile(r"(and|or)\s+", re.IGNORECASE)
SEARCH_CLAUSE = re.compile(r'\s*"(\w+):([^"]*)"\s*')
WORD = re.compile(r"[0-9a-z]+")
NEEDS_ADVANCED = ("Operator '{operator}' is not supported because the required parameters might be missing. Try "
                  "adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to "
                  "https://aka.ms/graph-docs/advanced-queries for more information")
REFERENCE_QUERY = "The specified filter to the reference property query is currently not supported."


class GraphError(Exception):
    """An error answered with Microsoft Graph's error body."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(request: Request, status: int, code: str, message: str, headers: dict | None = None) -> Response:
    """Graph's error shape with innerError date and request ids ("Microsoft Graph error responses")."""
    inner = {"date": now_iso(), "request-id": request.environ["fake_entra.request_id"],
             "client-request-id": request.headers.get("client-request-id",
                                                      request.environ["fake_entra.request_id"])}
    body = {"error": {"code": code, "message": message, "innerError": inner}}
    return Response(json.dumps(body), status, headers=headers, content_type="application/json")


def eventual(request: Request) -> bool:
    """Whether the request carries `ConsistencyLevel: eventual` (the index behind advanced queries)."""
    return request.headers.get("ConsistencyLevel", "").lower() == "eventual"


def require_advanced(request: Request, cast: bool, counting: bool) -> None:
    """On a group's members, an OData cast, $filter and $orderby are advanced queries: they need
    ConsistencyLevel: eventual and $count=true (or a /$count segment); $search needs the header only."""
    args = request.args
    if not (cast or "$filter" in args or "$orderby" in args):
        return
    if not (eventual(request) and (counting or args.get("$count", "").lower() == "true")):
        raise GraphError(400, "Request_UnsupportedQuery", REFERENCE_QUERY)


@dataclass
class Query:
    """The parsed OData options of one Graph request."""

    select: list[str] | None = None
    top: int = 100
    filter: list[list[tuple]] | None = None
    search: list[tuple[str, list[str]]] | None = None
    orderby: tuple[str, bool] | None = None
    count: bool = False


def parse_query(request: Request, properties: tuple[str, ...], default_top: int = 100) -> Query:
    """Validate $select/$top/$filter/$search/$orderby/$count the way Graph does."""
    args = request.args
    is_eventual = eventual(request)
    query = Query(top=default_top)
    if "$skip" in args:
        raise GraphError(400, "Request_BadRequest", "'$skip' is not supported by the service.")
    if "$select" in args:
        query.select = [name.strip() for name in args["$select"].split(",") if name.strip()]
        for name in query.select:
            if name not in properties:
                raise GraphError(400, "Request_BadRequest",
                                 f"Could not find a property named '{name}' on type 'microsoft.graph.directoryObject'.")
    if "$top" in args:
        raw = args["$top"]
        if not raw.isdigit() or not 1 <= int(raw) <= 999:
            raise GraphError(400, "Request_BadRequest",
                             f"Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive.")
        query.top = int(raw)
    # Without the header Graph ignores $count=true: the listing comes back without @odata.count.
    query.count = is_eventual and args.get("$count", "").lower() == "true"
    if "$search" in args:
        if not is_eventual:
            raise GraphError(400, "Request_UnsupportedQuery", SEARCH_NEEDS_HEADER)
        query.search = parse_search(args["$search"], properties)
    if "$filter" in args:
        query.filter = parse_filter(args["$filter"], properties)
        if not query.count and any(clause[0] == "ne" for clauses in query.filter for clause in clauses):
            raise GraphError(400, "Request_UnsupportedQuery", NEEDS_ADVANCED.format(operator="ne"))
    if "$orderby" in args:
        field_name, _, direction = args["$orderby"].strip().partition(" ")
        if field_name != "displayName" or direction.lower() not in ("", "asc", "desc"):
            raise GraphError(400, "Request_UnsupportedQuery", "Sorting not supported for current query.")
        if query.filter and not query.count:
            raise GraphError(400, "Request_UnsupportedQuery", "Sorting not supported for current query.")
        query.orderby = (field_name, direction.lower() == "desc")
    return query


def parse_filter(text: str, properties: tuple[str, ...]) -> list[list[tuple]]:
    """startswith(p,'x') / p eq 'x' / p eq true clauses joined by and/or; 'and' binds tighter."""
    alternatives: list[list[tuple]] = [[]]
    position = 0
    while True:
        match = CLAUSE.match(text, position)
        if not match:
            raise GraphError(400, "Request_BadRequest", "Invalid filter clause")
        if match.group(1):
            clause = ("startswith", match.group(1), match.group(2).replace("''", "'"))
        else:
            raw = match.group(5)
            value = {"true": True, "false": False, "null": None}.get(raw.lower(), raw[1:-1].replace("''", "'"))
            clause = (match.group(4).lower(), match.group(3), value)
        if clause[1] not in properties:
            raise GraphError(400, "Request_BadRequest",
                             f"Property '{clause[1]}' does not exist as a declared property.")
        alternatives[-1].append(clause)
        position = match.end()
        if position == len(text):
            return alternatives
        connector = CONNECTOR.match(text, position)
        if not connector:
            raise GraphError(400, "Request_BadRequest", "Invalid filter clause")
        if connector.group(1).lower() == "or":
            alternatives.append([])
        position = connector.end()


def parse_search(text: str, properties: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """'"displayName:abc"' clauses (quotes required); any clause may match."""
    clauses = []
    position = 0
    stripped = text.strip()
    while position < len(stripped):
        match = SEARCH_CLAUSE.match(stripped, position)
        if not match:
            colon = stripped.find(":")
            raise GraphError(400, "Request_BadRequest",
                             f"Syntax error: character ':' is not valid at position {colon} in '{text}'.")
        if match.group(1) not in properties:
            raise GraphError(400, "Request_BadRequest", f"Invalid search property '{match.group(1)}'.")
        clauses.append((match.group(1), WORD.findall(match.group(2).lower())))
        position = match.end()
        connector = re.compile(r"(AND|OR)\s+").match(stripped, position)
        if connector:
            position = connector.end()
    return clauses


def matches(obj: dict, query: Query) -> bool:
    """Whether an object passes the $filter and $search of a query."""
    if query.filter is not None and not any(all(clause_holds(obj, c) for c in group) for group in query.filter):
        return False
    if query.search is not None:
        return any(search_holds(obj, name, terms) for name, terms in query.search)
    return True


def clause_holds(obj: dict, clause: tuple) -> bool:
    """One $filter clause against one object; string comparisons ignore case like Entra."""
    operator, name, value = clause
    actual = obj.get(name)
    if operator == "startswith":
        return isinstance(actual, str) and actual.lower().startswith(value.lower())
    both_text = isinstance(actual, str) and isinstance(value, str)
    equal = actual.lower() == value.lower() if both_text else actual == value
    return equal if operator == "eq" else not equal


def search_holds(obj: dict, name: str, terms: list[str]) -> bool:
    """Every search term is a prefix of some word of the property (Graph's tokenized search)."""
    value = obj.get(name)
    if not isinstance(value, str):
        return False
    words = WORD.findall(re.sub(r"([a-z])([A-Z])", r"\1 \2", value).lower())
    return all(any(word.startswith(term) for word in words) for term in terms)


def order(objects: list[dict], query: Query) -> list[dict]:
    """Apply $orderby=displayName [desc]."""
    if query.orderby is None:
        return objects
    name, descending = query.orderby
    return sorted(objects, key=lambda o: (o.get(name) or "").lower(), reverse=descending)


@dataclass
class Snapshot:
    """A listing frozen at its first page; later pages read from it."""

    tenant_id: str
    items: list
    context: str
    extra: dict = field(default_factory=dict)


class Cursors:
    """Snapshots of listings behind opaque $skiptoken values, oldest evicted first."""

    def __init__(self, max_snapshots: int = 256, max_items: int = 3_000_000):
        self.snapshots: OrderedDict[str, Snapshot] = OrderedDict()
        self.max_snapshots, self.max_items = max_snapshots, max_items
        self.lock = threading.Lock()

    def put(self, snapshot: Snapshot) -> str:
        """Store a snapshot and return its id."""
        key = secrets.token_hex(8)
        with self.lock:
            self.snapshots[key] = snapshot
            total = sum(len(s.items) for s in self.snapshots.values())
            while len(self.snapshots) > 1 and (len(self.snapshots) > self.max_snapshots or total > self.max_items):
                _, dropped = self.snapshots.popitem(last=False)
                total -= len(dropped.items)
        return key

    def get(self, key: str) -> Snapshot | None:
        """A stored snapshot, or None once evicted or unknown."""
        with self.lock:
            return self.snapshots.get(key)

    def clear(self) -> None:
        """Forget every snapshot (after a reset)."""
        with self.lock:
            self.snapshots.clear()


def encode_skiptoken(key: str, offset: int, page: int) -> str:
    """An opaque token naming a snapshot, an offset and the page number."""
    return base64.urlsafe_b64encode(f"{key}:{offset}:{page}".encode()).decode().rstrip("=")


def decode_skiptoken(token: str) -> tuple[str, int, int] | None:
    """(snapshot id, offset, page) of a token, or None when it is not ours."""
    try:
        key, offset, page = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        return key, int(offset), int(page)
    except (ValueError, UnicodeDecodeError):
        return None


def page_number(request: Request) -> int:
    """Which page of a listing a request asks for (1 without a $skiptoken)."""
    token = request.args.get("$skiptoken")
    decoded = decode_skiptoken(token) if token else None
    return decoded[2] if decoded else 1


def next_link(request: Request, base_url: str, key: str, offset: int, page: int) -> str:
    """Absolute URL of the next page, keeping the original options."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "$skiptoken"]
    args.append(("$skiptoken", encode_skiptoken(key, offset, page)))
    return f"{base_url}{request.path}?{urlencode(args, safe='$,()')}"
