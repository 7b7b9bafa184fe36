"""The WSGI application serving identity, Graph and control routes on one port."""

from __future__ import annotations

import json
import re
import ssl
import time
import uuid

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from fake_entra import applications, demo, graph
from fake_entra.authorize import Authorizer
from fake_entra.control import Control
from fake_entra.dataset import load_data
from fake_entra.device import DeviceFlows
from fake_entra.directory import Directory
from fake_entra.faults import FAULT_CODES, FaultBook, retry_after_header
from fake_entra.generate import generate_tenant
from fake_entra.identity import (
    GRAPH_APP_ID, SPECIAL_TENANTS, TokenEndpoint, TokenError, discovery, instance_discovery, tenant_name_valid,
    token_error_response,
)
from fake_entra.latency import Latency
from fake_entra.odata import Cursors, GraphError, error_response, eventual, page_number
from fake_entra.pages import error_page
from fake_entra.throttle import Throttle
from fake_entra.tokens import TokenService

IDENTITY_RULES = [
    Rule("/<tenant>/v2.0/.well-known/openid-configuration", endpoint="/openid-configuration", methods=["GET"]),
    Rule("/<tenant>/discovery/v2.0/keys", endpoint="/keys", methods=["GET"]),
    Rule("/<tenant>/oauth2/v2.0/authorize", endpoint="/authorize", methods=["GET", "POST"]),
    Rule("/<tenant>/oauth2/v2.0/token", endpoint="/token", methods=["POST"]),
    Rule("/<tenant>/oauth2/v2.0/devicecode", endpoint="/devicecode", methods=["POST"]),
    Rule("/devicelogin", endpoint="/devicelogin", methods=["GET", "POST"]),
    Rule("/<tenant>/v2.0/adminconsent", endpoint="/adminconsent", methods=["GET", "POST"]),
    Rule("/common/discovery/instance", endpoint="/instance-discovery", methods=["GET"]),
    Rule("/<tenant>/discovery/instance", endpoint="/instance-discovery", methods=["GET"]),
]
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# Graph's URLs are case-insensitive; its CSDL aliases the namespace microsoft.graph as graph, and a
# function may be called with or without parentheses and with or without its namespace.
COLLECTIONS = {"groups": "/groups", "users": "/users", "me": "/me", "organization": "/organization"}
RELATIONSHIPS = {"members": "/members", "transitivemembers": "/transitiveMembers"}
USER_RELATIONSHIPS = {"memberof": "/memberOf"}
CASTS = {f"{namespace}.{kind}": f"/microsoft.graph.{kind}"
         for namespace in ("microsoft.graph", "graph") for kind in ("user", "group")}
DELTA = {f"{namespace}delta{call}" for namespace in ("", "microsoft.graph.", "graph.") for call in ("", "()")}
COUNTABLE = {"/groups", "/users", "/groups/{id}/members", "/groups/{id}/members/microsoft.graph.user",
             "/groups/{id}/members/microsoft.graph.group",
             "/groups/{id}/transitiveMembers", "/groups/{id}/transitiveMembers/microsoft.graph.user",
             "/groups/{id}/transitiveMembers/microsoft.graph.group", "/users/{id}/memberOf",
             "/users/{id}/memberOf/microsoft.graph.group"}


class UnknownSegment(Exception):
    """A Graph URL segment no route knows."""


def graph_route(path: str) -> tuple[str, list[str], bool]:
    """(route key, object ids, whether a /$count segment ends it) of a /v1.0 path, in any spelling Graph takes."""
    segments = path[len("/v1.0/"):].split("/")
    counting = segments[-1] == "$count" and len(segments) > 1
    if counting:
        segments = segments[:-1]
    head = segments[0].lower()
    if head not in COLLECTIONS or "" in segments:
        raise UnknownSegment(segments[0] if head not in COLLECTIONS else "")
    route, ids = COLLECTIONS[head], []
    rest = segments[1:]
    if rest and head in ("groups", "users"):
        if rest[0].lower() in DELTA:
            route, rest = route + "/delta", rest[1:]
        else:
            object_id = rest[0]
            ids.append(object_id.lower() if GUID.match(object_id) else object_id)
            route, rest = route + "/{id}", rest[1:]
            if rest and head == "groups" and rest[0].lower() in RELATIONSHIPS:
                route, rest = route + RELATIONSHIPS[rest[0].lower()], rest[1:]
                if rest and rest[0].lower() in CASTS:
                    route, rest = route + CASTS[rest[0].lower()], rest[1:]
            elif rest and head == "users" and rest[0].lower() in USER_RELATIONSHIPS:
                route, rest = route + USER_RELATIONSHIPS[rest[0].lower()], rest[1:]
                if rest and rest[0].lower() in CASTS:
                    route, rest = route + CASTS[rest[0].lower()], rest[1:]
    if rest:
        raise UnknownSegment(rest[0])
    if route not in graph.ROUTES or (counting and route not in COUNTABLE):
        raise UnknownSegment("$count" if counting else segments[-1])
    return route, ids, counting


class Emulator:
    """State of one fake Microsoft: directory, tokens, faults, counts and paging snapshots."""

    def __init__(self, generate_args: dict | None = None, data: dict | None = None, index_lag: float = 0.0,
                 latency: tuple[float, float] = (0.0, 0.0), throttling: bool = False):
        self.generate_args, self.data, self.index_lag = generate_args, data, index_lag
        self.start_latency, self.start_throttling = latency, throttling
        self.tokens = TokenService()
        self.faults = FaultBook()
        self.cursors = Cursors()
        self.throttle = Throttle()
        self.throttle.configure(throttling)
        self.latency = Latency()
        self.latency.configure(*latency)
        self.authorizer = Authorizer(self)
        self.devices = DeviceFlows(self)
        self.control = Control(self)
        self.url_map = Map(IDENTITY_RULES)
        self.build()

    def build(self) -> None:
        """Create the initial data set: the demo, then any file or generated tenant."""
        directory = Directory(index_lag=self.index_lag)
        demo.build_demo(directory)
        if self.data:
            load_data(directory, self.data)
        self.directory = directory
        self.generated = [self.generate(self.generate_args)] if self.generate_args else []
        directory.settle()
        self.dirty = False

    def generate(self, args: dict) -> dict:
        """Add a generated tenant; the portal app is consented there so OAuth works out of the box."""
        allowed = {"seed", "users", "groups", "big_group_size", "name", "domain"}
        return generate_tenant(self.directory, **{k: v for k, v in args.items() if k in allowed},
                               portal_client_id=demo.PORTAL_CLIENT_ID)

    def reset(self) -> None:
        """Back to the initial state; the directory is rebuilt only if something changed it."""
        with self.directory.lock:
            if self.dirty:
                self.build()
            self.tokens.clear()
            self.faults.clear_faults()
            self.faults.clear_counts()
            self.cursors.clear()
            self.throttle.configure(self.start_throttling)
            self.latency.configure(*self.start_latency)
            self.authorizer.clear()
            self.devices.clear()
            self.directory.set_index_lag(self.index_lag)

    def __call__(self, environ, start_response):
        """WSGI entry point."""
        request = Request(environ)
        request_id = str(uuid.uuid4())
        environ["fake_entra.request_id"] = request_id
        response = self.control(request) if request.path.startswith("/_fake/") else self.serve(request)
        response.headers["request-id"] = request_id
        response.headers["client-request-id"] = request.headers.get("client-request-id", request_id)
        return response(environ, start_response)

    def serve(self, request: Request) -> Response:
        """Count, apply faults, then answer an identity or Graph request."""
        if request.path.startswith("/v1.0/") and applications.owns(request.path):
            return self.app_registrations(request)
        if request.path.startswith("/v1.0/"):
            try:
                if request.method != "GET":
                    raise UnknownSegment(request.path.rstrip("/").rsplit("/", 1)[-1])
                route, values, counting = graph_route(request.path)
            except UnknownSegment as exc:
                self.faults.count(f"{request.method} {request.path}")
                return error_response(request, 400, "BadRequest", f"Resource not found for the segment '{exc}'.")
            endpoint = route + "/$count" if counting else route
        else:
            try:
                endpoint, mapped = self.url_map.bind_to_environ(request.environ).match()
            except HTTPException as exc:
                self.faults.count(f"{request.method} {request.path}")
                return exc.get_response(request.environ)
        self.faults.count(f"{request.method} {endpoint}")
        fault = self.faults.take(request.method, request.path, page_number(request))
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status:
                return self.fault_response(request, endpoint, fault)
        authority = f"{request.scheme}://{request.host}"
        if request.path.startswith("/v1.0/"):
            response = self.graph(request, route, values, counting, authority)
            if fault is not None and (fault.truncate or fault.count_offset) and response.is_json \
                    and response.status_code == 200:
                response.set_data(json.dumps(fault.alter(json.loads(response.get_data()))))
            return response
        return self.identity(request, endpoint, mapped.get("tenant", "common"), authority)

    def identity(self, request: Request, endpoint: str, tenant: str, authority: str) -> Response:
        """Answer a request to the identity platform: discovery, keys, tokens, device codes, sign-in."""
        if endpoint == "/instance-discovery":
            return instance_discovery(authority, request)
        if not tenant_name_valid(tenant):
            return self.malformed_tenant(request, endpoint, authority, tenant)
        if endpoint == "/token":
            return TokenEndpoint(self.directory, self.tokens, self.devices).handle(authority, tenant, request)
        if endpoint == "/devicecode":
            return self.device_code(authority, tenant, request)
        if endpoint == "/devicelogin":
            with self.directory.lock:
                return self.devices.page(request)
        if endpoint == "/keys":
            return Response(json.dumps(self.tokens.jwks()), content_type="application/json")
        if endpoint == "/openid-configuration":
            with self.directory.lock:
                config = discovery(authority, self.directory, tenant)
            if config is None:
                return token_error_response(authority, TokenError(
                    400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found."))
            return Response(json.dumps(config), content_type="application/json")
        return self.authorizer.handle(request, endpoint, tenant, authority)

    def device_code(self, authority: str, tenant: str, request: Request) -> Response:
        """The device authorization request, answered like the token endpoint (JSON, Microsoft's errors)."""
        if tenant.lower() not in SPECIAL_TENANTS and self.directory.find_tenant(tenant) is None:
            return token_error_response(authority, TokenError(
                400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found."))
        try:
            with self.directory.lock:
                body = self.devices.start(authority, tenant, request)
        except TokenError as err:
            return token_error_response(authority, err)
        return Response(json.dumps(body), content_type="application/json; charset=utf-8")

    def malformed_tenant(self, request: Request, endpoint: str, authority: str, tenant: str) -> Response:
        """AADSTS900023 for a tenant segment that is neither a GUID nor a domain name."""
        error = TokenError(400, "invalid_request", 900023, f"Specified tenant identifier '{tenant}' is neither a "
                                                           "valid DNS name, nor a valid external domain.")
        if endpoint in ("/authorize", "/adminconsent"):
            return error_page(error.code, error.text)
        return token_error_response(authority, error)

    def fault_response(self, request: Request, endpoint: str, fault) -> Response:
        """The error an injected fault answers with."""
        headers = {"Retry-After": retry_after_header(fault.retry_after)} if fault.retry_after is not None else {}
        if request.path.startswith("/v1.0/"):
            code = FAULT_CODES.get(fault.status, "UnknownError")
            return error_response(request, fault.status, code, f"Injected fault: {code}.", headers)
        authority = f"{request.scheme}://{request.host}"
        response = token_error_response(authority, TokenError(
            fault.status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again."))
        response.headers.extend(headers)
        return response

    def bearer(self, request: Request, authority: str) -> tuple[dict | None, Response | None]:
        """The claims of the request's access token, or the 401 Graph answers when it has no valid one."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, self.unauthorized(request, authority, "Access token is empty.")
        claims, problem = self.tokens.check_access_token(token.strip())
        if claims is None:
            return None, self.unauthorized(request, authority, problem)
        return claims, None

    def graph(self, request: Request, route: str, values: list[str], counting: bool, authority: str) -> Response:
        """Authenticate a Graph call by its bearer token and run the route for the token's tenant."""
        claims, refused = self.bearer(request, authority)
        if refused is not None:
            return refused
        with self.directory.lock:
            tenant = self.directory.tenants.get(claims["tid"])
            if tenant is None:
                return self.unauthorized(request, authority, "Access token validation failure. Invalid tenant.")
            units = graph.resource_units(route, request)
            verdict = self.throttle.charge(claims.get("appid", ""), tenant.id, len(tenant.users), units)
            if verdict.wait is not None:
                return throttled_response(request, verdict, claims.get("appid", ""), tenant.id)
            permissions = set(claims.get("scp", "").split()) | set(claims.get("roles", []))
            call = graph.Call(request, tenant, claims, permissions, f"{authority}/v1.0", self.cursors,
                              self.directory.generation, count_only=counting)
            try:
                check_object_ids(route, values)
                if counting and not eventual(request):
                    raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")
                response = graph.ROUTES[route](call, *values)
            except GraphError as err:
                response = error_response(request, err.status, err.code, err.message, err.headers)
        response.headers["x-ms-resource-unit"] = str(units)
        if verdict.used >= 80:
            response.headers["x-ms-throttle-limit-percentage"] = f"{verdict.used / 100:.1f}"
        delay = self.latency.delay(response.get_data(), response.is_json)
        if delay:
            time.sleep(delay)
        return response

    def app_registrations(self, request: Request) -> Response:
        """/applications and /servicePrincipals (reads and writes), authenticated like every Graph call."""
        segments = request.path[len("/v1.0/"):].rstrip("/").split("/")
        route = applications.route_name(segments)
        self.faults.count(f"{request.method} {route}")
        fault = self.faults.take(request.method, request.path, page_number(request))
        if fault is not None and fault.status:
            return self.fault_response(request, route, fault)
        authority = f"{request.scheme}://{request.host}"
        claims, refused = self.bearer(request, authority)
        if refused is not None:
            return refused
        with self.directory.lock:
            tenant = self.directory.tenants.get(claims["tid"])
            if tenant is None:
                return self.unauthorized(request, authority, "Access token validation failure. Invalid tenant.")
            permissions = set(claims.get("scp", "").split()) | set(claims.get("roles", []))
            call = applications.WriteCall(request, self.directory, tenant, claims, permissions, f"{authority}/v1.0")
            try:
                response = applications.handle(call, segments)
                self.dirty = self.dirty or request.method != "GET"
            except GraphError as err:
                response = error_response(request, err.status, err.code, err.message, err.headers)
        return response

    @staticmethod
    def unauthorized(request: Request, authority: str, message: str) -> Response:
        """Graph's 401, with the challenge that tells a client where to get a token."""
        challenge = (f'Bearer realm="", authorization_uri="{authority}/common/oauth2/authorize", '
                     f'client_id="{GRAPH_APP_ID}"')
        return error_response(request, 401, "InvalidAuthenticationToken", message,
                              {"WWW-Authenticate": challenge})


def throttled_response(request: Request, verdict, app_id: str, tenant_id: str) -> Response:
    """Graph's 429 when a resource-unit budget is spent: Microsoft's body, Retry-After and the throttle scope."""
    response = error_response(request, 429, "TooManyRequests", "Please retry again later.", {
        "Retry-After": retry_after_header(verdict.wait),
        "x-ms-throttle-scope": f"{verdict.scope}/ReadWrite/{app_id}/{tenant_id}",
        "x-ms-throttle-information": "ResourceUnitLimitExceeded"})
    body = json.loads(response.get_data())
    body["error"]["innerError"].update(code="429", status="429", message="Please retry after")
    response.set_data(json.dumps(body))
    return response


def check_object_ids(route: str, values: list[str]) -> None:
    """Groups are addressed by object id only: anything but a GUID is 400 (users may also go by UPN)."""
    if route.startswith("/groups/{id}") and not GUID.match(values[0]):
        raise GraphError(400, "Request_BadRequest", f"Invalid object identifier '{values[0]}'.")


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 so clients reuse connections while paging."""

    protocol_version = "HTTP/1.1"


def serve(emulator: Emulator, host: str, port: int, ssl_context: ssl.SSLContext | None = None):
    """A threaded werkzeug server bound to host:port (port 0 picks a free one), HTTPS with an ssl_context."""
    return make_server(host, port, emulator, threaded=True, request_handler=KeepAliveHandler,
                       ssl_context=ssl_context)
