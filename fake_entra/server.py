"""The WSGI application serving identity, Graph and control routes on one port."""

from __future__ import annotations

import json
import time
import uuid

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from fake_entra import demo, graph
from fake_entra.authorize import Authorizer
from fake_entra.control import Control
from fake_entra.dataset import load_data
from fake_entra.directory import Directory
from fake_entra.faults import FAULT_CODES, FaultBook, retry_after_header
from fake_entra.generate import generate_tenant
from fake_entra.identity import TokenEndpoint, TokenError, discovery, token_error_response
from fake_entra.odata import Cursors, GraphError, error_response, page_number
from fake_entra.throttle import Throttle
from fake_entra.tokens import TokenService

IDENTITY_RULES = [
    Rule("/<tenant>/v2.0/.well-known/openid-configuration", endpoint="/openid-configuration", methods=["GET"]),
    Rule("/<tenant>/discovery/v2.0/keys", endpoint="/keys", methods=["GET"]),
    Rule("/<tenant>/oauth2/v2.0/authorize", endpoint="/authorize", methods=["GET", "POST"]),
    Rule("/<tenant>/oauth2/v2.0/token", endpoint="/token", methods=["POST"]),
    Rule("/<tenant>/v2.0/adminconsent", endpoint="/adminconsent", methods=["GET", "POST"]),
]
GRAPH_RULES = [Rule("/v1.0" + route.replace("{id}", "<object_id>"), endpoint=route, methods=["GET"])
               for route in graph.ROUTES]


class Emulator:
    """State of one fake Microsoft: directory, tokens, faults, counts and paging snapshots."""

    def __init__(self, generate_args: dict | None = None, data: dict | None = None, index_lag: float = 0.0):
        self.generate_args, self.data, self.index_lag = generate_args, data, index_lag
        self.tokens = TokenService()
        self.faults = FaultBook()
        self.cursors = Cursors()
        self.throttle = Throttle()
        self.authorizer = Authorizer(self)
        self.control = Control(self)
        self.url_map = Map(GRAPH_RULES + IDENTITY_RULES)
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
            self.throttle.configure(False)
            self.authorizer.clear()
            self.directory.set_index_lag(self.index_lag)

    def __call__(self, environ, start_response):
        """WSGI entry point."""
        request = Request(environ)
        request_id = str(uuid.uuid4())
        environ["fake_entra.request_id"] = request_id
        if request.path.startswith("/_fake/"):
            response = self.control(request)
        else:
            response = self.serve(request)
        response.headers["request-id"] = request_id
        response.headers["client-request-id"] = request.headers.get("client-request-id", request_id)
        return response(environ, start_response)

    def serve(self, request: Request) -> Response:
        """Count, apply faults, then answer an identity or Graph request."""
        try:
            endpoint, values = self.url_map.bind_to_environ(request.environ).match()
        except HTTPException as exc:
            self.faults.count(f"{request.method} {request.path}")
            if request.path.startswith("/v1.0/"):
                segment = request.path.rstrip("/").rsplit("/", 1)[-1]
                return error_response(request, 400, "BadRequest", f"Resource not found for the segment '{segment}'.")
            return exc.get_response(request.environ)
        self.faults.count(f"{request.method} {endpoint}")
        fault = self.faults.take(request.method, request.path, page_number(request))
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status:
                return self.fault_response(request, endpoint, fault)
        authority = f"{request.scheme}://{request.host}"
        if endpoint in graph.ROUTES:
            response = self.graph(request, endpoint, values, authority)
            if fault is not None and (fault.truncate or fault.count_offset) and response.status_code == 200:
                response.set_data(json.dumps(fault.alter(json.loads(response.get_data()))))
            return response
        tenant = values["tenant"]
        if endpoint == "/token":
            return TokenEndpoint(self.directory, self.tokens).handle(authority, tenant, request)
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

    def fault_response(self, request: Request, endpoint: str, fault) -> Response:
        """The error an injected fault answers with."""
        headers = {"Retry-After": retry_after_header(fault.retry_after)} if fault.retry_after is not None else {}
        if endpoint in graph.ROUTES:
            code = FAULT_CODES.get(fault.status, "UnknownError")
            return error_response(request, fault.status, code, f"Injected fault: {code}.", headers)
        authority = f"{request.scheme}://{request.host}"
        response = token_error_response(authority, TokenError(
            fault.status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again."))
        response.headers.extend(headers)
        return response

    def graph(self, request: Request, route: str, values: dict, authority: str) -> Response:
        """Authenticate a Graph call by its bearer token and run the route for the token's tenant."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error_response(request, 401, "InvalidAuthenticationToken", "Access token is empty.")
        claims, problem = self.tokens.check_access_token(token.strip())
        if claims is None:
            return error_response(request, 401, "InvalidAuthenticationToken", problem)
        with self.directory.lock:
            tenant = self.directory.tenants.get(claims["tid"])
            if tenant is None:
                return error_response(request, 401, "InvalidAuthenticationToken",
                                      "Access token validation failure. Invalid tenant.")
            units = graph.resource_units(route, request)
            wait, used = self.throttle.charge(claims.get("appid", ""), tenant.id, len(tenant.users), units)
            if wait is not None:
                return error_response(request, 429, "TooManyRequests", "Too many requests: retry later.",
                                      {"Retry-After": retry_after_header(wait)})
            permissions = set(claims.get("scp", "").split()) | set(claims.get("roles", []))
            call = graph.Call(request, tenant, claims, permissions, f"{authority}/v1.0", self.cursors,
                              self.directory.generation)
            try:
                response = graph.ROUTES[route](call, *values.values())
            except GraphError as err:
                response = error_response(request, err.status, err.code, err.message, err.headers)
        response.headers["x-ms-resource-unit"] = str(units)
        if used >= 80:
            response.headers["x-ms-throttle-limit-percentage"] = f"{used / 100:.1f}"
        return response


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 so clients reuse connections while paging."""

    protocol_version = "HTTP/1.1"


def serve(emulator: Emulator, host: str, port: int):
    """A threaded werkzeug server bound to host:port (port 0 picks a free one)."""
    return make_server(host, port, emulator, threaded=True, request_handler=KeepAliveHandler)
