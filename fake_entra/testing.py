"""A handle on a fake_entra subprocess for tests and benchmarks."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from collections.abc import Iterator
from urllib.parse import urljoin

import requests

from fake_entra import demo

REPO_ROOT = Path(__file__).resolve().parent.parent
FORM = re.compile(r'<form id="(\w+)" method="post" action="([^"]*)">(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')
ERROR = re.compile(r'id="error">(.*?)</p>', re.S)


class SignInError(Exception):
    """The fake sign-in stopped on an error page instead of redirecting."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        found = re.search(r"AADSTS(\d+)", message)
        self.code = int(found.group(1)) if found else None
        self.message, self.status = message, status


class Control:
    """Wrappers of the /_fake/ control API."""

    def __init__(self, base_url: str, ca_file: str | None = None):
        self.base_url = base_url
        self.session = requests.Session()
        self.verify = ca_file or True

    def call(self, method: str, path: str, body: dict | None = None):
        """One control request; raises on a non-2xx answer."""
        response = self.session.request(method, f"{self.base_url}/_fake{path}", json=body, timeout=120,
                                        verify=self.verify)
        if response.status_code >= 300:
            raise RuntimeError(f"fake_entra control {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def reset(self) -> None:
        """Initial data set; no tokens, faults or counts."""
        self.call("POST", "/reset")

    def counts(self) -> dict[str, int]:
        """Requests per endpoint, e.g. {"POST /token": 1, "GET /groups": 2}."""
        return self.call("GET", "/counts")

    def reset_counts(self) -> None:
        """Zero the request counts."""
        self.call("POST", "/counts/reset")

    def inject(self, status: int | None = None, *, retry_after: float | None = None, delay: float = 0.0,
               count: int | None = 1, path: str | None = None, method: str | None = None,
               page: int | None = None, truncate: bool = False, count_offset: int = 0) -> dict:
        """Arm a fault for the next `count` calls matching path substring, method and page (None: all)."""
        # With only `delay` the call is slow but succeeds; page 1 is the request without $skiptoken.
        # `truncate` ends a listing at the matching page; `count_offset` moves the reported @odata.count.
        return self.call("POST", "/faults", {"status": status, "retry_after": retry_after, "delay": delay,
                                             "count": count, "path": path, "method": method, "page": page,
                                             "truncate": truncate, "count_offset": count_offset})

    def faults(self) -> list[dict]:
        """Armed faults with their hit counts."""
        return self.call("GET", "/faults")

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self.call("POST", "/faults/clear")

    def tenants(self) -> list[dict]:
        """Every tenant with its size."""
        return self.call("GET", "/tenants")

    def create_tenant(self, seed: int = 1, users: int = 1000, groups: int = 50, big_group_size: int | None = None,
                      name: str | None = None, domain: str | None = None) -> dict:
        """Generate a tenant (gone after reset()); returns its ids, admin and enterprise app credentials."""
        # Keys: tenant_id, domain, name, big_group_id, nested_group_ids, group_ids, user_count,
        # big_group_user_count, admin {id, user_principal_name, password}, user_password,
        # app {client_id, client_secret, secret_id, expired_client_secret}.
        return self.call("POST", "/tenants", {"seed": seed, "users": users, "groups": groups,
                                              "big_group_size": big_group_size, "name": name, "domain": domain})

    def add_user(self, tenant_id: str, display_name: str, user_principal_name: str, *, password: str | None = None,
                 admin: bool = False, **props) -> dict:
        """Create a user; props are Graph properties (mail, accountEnabled, userType, id...)."""
        return self.call("POST", f"/tenants/{tenant_id}/users", {
            "displayName": display_name, "userPrincipalName": user_principal_name, "password": password,
            "admin": admin, **props})

    def update_user(self, tenant_id: str, user_id: str, **changes) -> dict:
        """Change Graph properties: displayName, mail, userPrincipalName, accountEnabled..."""
        return self.call("PATCH", f"/tenants/{tenant_id}/users/{user_id}", changes)

    def disable_user(self, tenant_id: str, user_id: str) -> dict:
        """accountEnabled = false."""
        return self.update_user(tenant_id, user_id, accountEnabled=False)

    def enable_user(self, tenant_id: str, user_id: str) -> dict:
        """accountEnabled = true."""
        return self.update_user(tenant_id, user_id, accountEnabled=True)

    def remove_user(self, tenant_id: str, user_id: str, reason: str = "changed") -> None:
        """Delete a user (and its memberships)."""
        self.call("DELETE", f"/tenants/{tenant_id}/users/{user_id}", {"reason": reason})

    def add_group(self, tenant_id: str, display_name: str, members: tuple[str, ...] = (), **props) -> dict:
        """Create a group with direct members."""
        return self.call("POST", f"/tenants/{tenant_id}/groups",
                         {"displayName": display_name, "members": list(members), **props})

    def update_group(self, tenant_id: str, group_id: str, **changes) -> dict:
        """Rename or change a group."""
        return self.call("PATCH", f"/tenants/{tenant_id}/groups/{group_id}", changes)

    def remove_group(self, tenant_id: str, group_id: str, reason: str = "changed") -> None:
        """Delete a group."""
        self.call("DELETE", f"/tenants/{tenant_id}/groups/{group_id}", {"reason": reason})

    def add_object(self, tenant_id: str, odata_type: str, display_name: str, **props) -> dict:
        """Create a contact, device or service principal ('#microsoft.graph.orgContact', ...)."""
        return self.call("POST", f"/tenants/{tenant_id}/objects",
                         {"@odata.type": odata_type, "displayName": display_name, **props})

    def add_member(self, tenant_id: str, group_id: str, member_id: str) -> None:
        """Add a direct member (user or group)."""
        self.call("POST", f"/tenants/{tenant_id}/groups/{group_id}/members", {"id": member_id})

    def remove_member(self, tenant_id: str, group_id: str, member_id: str) -> None:
        """Remove a direct member."""
        self.call("DELETE", f"/tenants/{tenant_id}/groups/{group_id}/members/{member_id}")

    def grant_consent(self, tenant_id: str, client_id: str, application: tuple[str, ...] = (),
                      delegated: tuple[str, ...] = ()) -> dict:
        """Grant app roles and org-wide delegated permissions."""
        return self.call("POST", f"/tenants/{tenant_id}/consent", {
            "client_id": client_id, "application": list(application), "delegated": list(delegated)})

    def revoke_consent(self, tenant_id: str, client_id: str, kind: str = "all") -> None:
        """Remove consent: kind is 'all', 'delegated' or 'application'."""
        self.call("POST", f"/tenants/{tenant_id}/consent/revoke", {"client_id": client_id, "kind": kind})

    def set_throttling(self, enabled: bool = True, limit: int | None = None, window: float = 10.0,
                       app_limit: int | None = None) -> dict:
        """Enforce Graph's resource-unit budgets per app and tenant (limit None: by tenant size, every `window`
        seconds) and per app (app_limit None: Microsoft's 150,000 every 20 seconds)."""
        return self.call("POST", "/throttling", {"enabled": enabled, "limit": limit, "window": window,
                                                 "app_limit": app_limit})

    def set_latency(self, request: float = 0.0, per_object: float = 0.0) -> dict:
        """Graph answers wait `request` seconds plus `per_object` for each object returned, until reset() (which
        restores --latency and --latency-per-object)."""
        return self.call("POST", "/latency", {"request": request, "per_object": per_object})

    def set_index_lag(self, seconds: float) -> dict:
        """Advanced queries see membership this many seconds ago until reset() (which restores --index-lag)."""
        return self.call("POST", "/index-lag", {"seconds": seconds})

    def revoke_refresh_tokens(self, tenant_id: str | None = None, user_id: str | None = None,
                              client_id: str | None = None) -> int:
        """Invalidate matching refresh tokens (all when no filter); returns how many."""
        return self.call("POST", "/refresh-tokens/revoke", {
            "tenant_id": tenant_id, "user_id": user_id, "client_id": client_id})["revoked"]

    def set_token_lifetime(self, access: float | None = None, refresh: float | None = None,
                           code: float | None = None) -> dict:
        """Seconds for tokens issued from now on; reset() restores 3599 / 90 days / 600."""
        body = {k: v for k, v in (("access", access), ("refresh", refresh), ("code", code)) if v is not None}
        return self.call("POST", "/token-lifetime", body)

    def add_certificate(self, client_id: str, certificate_pem: str) -> str:
        """Register a certificate on an app for client assertions; returns its SHA-1 thumbprint (hex)."""
        return self.call("POST", f"/apps/{client_id}/certificates", {"certificate": certificate_pem})["thumbprint"]

    def set_device_code(self, lifetime: float | None = None, interval: int | None = None) -> dict:
        """Lifetime and polling interval of the device codes issued from now on (reset restores 900 s and 5 s)."""
        body = {k: v for k, v in (("lifetime", lifetime), ("interval", interval)) if v is not None}
        return self.call("POST", "/device-code", body)

    def expire_delta_tokens(self, tenant_id: str) -> None:
        """Every delta link issued so far answers 400 syncStateNotFound."""
        self.call("POST", f"/tenants/{tenant_id}/delta/expire")


class FakeEntra:
    """A running `python -m fake_entra --port 0` subprocess."""

    def __init__(self, process: subprocess.Popen, base_url: str, generated: list[dict], ca_file: str | None = None):
        self.process = process
        self.base_url = base_url
        self.authority_url = base_url
        self.graph_url = f"{base_url}/v1.0"
        self.demo = demo
        self.ca_file = ca_file
        self.verify = ca_file or True
        self.control = Control(base_url, ca_file)
        self.generated = generated

    @classmethod
    def launch(cls, *, seed: int | None = None, users: int | None = None, groups: int | None = None,
               big_group_size: int | None = None, data: dict | str | None = None, index_lag: float | None = None,
               latency: float | None = None, latency_per_object: float | None = None, throttling: bool = False,
               host: str = "127.0.0.1", port: int = 0, tls: bool = False, timeout: float = 60.0) -> FakeEntra:
        """Start the server (port 0: a free one; tls: HTTPS, trusted through `ca_file`) and wait until it
        answers; call stop() when done."""
        command = [sys.executable, "-m", "fake_entra", "--host", host, "--port", str(port), "--exit-with-parent"]
        if tls:
            command.append("--tls")
        if throttling:
            command.append("--throttling")
        for flag, value in (("--seed", seed), ("--users", users), ("--groups", groups),
                            ("--big-group-size", big_group_size), ("--index-lag", index_lag),
                            ("--latency", latency), ("--latency-per-object", latency_per_object)):
            if value is not None:
                command += [flag, str(value)]
        if data is not None:
            command += ["--data", data if isinstance(data, str) else write_temp_json(data)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
        lines: queue.Queue = queue.Queue()
        wanted = 2 if tls else 1
        threading.Thread(target=lambda: [lines.put(process.stdout.readline()) for _ in range(wanted)],
                         daemon=True).start()
        ca_file = None
        try:
            line = lines.get(timeout=timeout)
            if tls and line.startswith("fake_entra CA certificate: "):
                ca_file = line.split(": ", 1)[1].strip()
                line = lines.get(timeout=timeout)
        except queue.Empty:
            process.kill()
            raise RuntimeError("fake_entra did not start in time") from None
        if not line.startswith("fake_entra listening on "):
            process.kill()
            raise RuntimeError(f"fake_entra failed to start (exit code {process.wait()})")
        base_url = line.split()[-1]
        verify = ca_file or True
        requests.get(f"{base_url}/_fake/health", timeout=timeout, verify=verify).raise_for_status()
        generated = requests.get(f"{base_url}/_fake/generated", timeout=timeout, verify=verify).json()
        return cls(process, base_url, generated, ca_file)

    @classmethod
    @contextmanager
    def start(cls, **options) -> Iterator[FakeEntra]:
        """Context manager around launch()/stop(); same keyword options as launch()."""
        server = cls.launch(**options)
        try:
            yield server
        finally:
            server.stop()

    def stop(self) -> None:
        """Terminate the subprocess."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()

    def token_url(self, tenant: str = demo.TENANT_ID) -> str:
        """{authority}/{tenant}/oauth2/v2.0/token."""
        return f"{self.authority_url}/{tenant}/oauth2/v2.0/token"

    def app_token(self, tenant: str = demo.TENANT_ID, client_id: str = demo.ENTERPRISE_APP_CLIENT_ID,
                  client_secret: str = demo.ENTERPRISE_APP_SECRET) -> str:
        """An app-only Graph access token (client credentials); raises on an error answer."""
        response = requests.post(self.token_url(tenant), data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret,
            "scope": "https://graph.microsoft.com/.default"}, timeout=30, verify=self.verify)
        response.raise_for_status()
        return response.json()["access_token"]

    def sign_in(self, authorize_url: str, email: str = demo.ADMIN_EMAIL, password: str = demo.USER_PASSWORD, *,
                accept: bool = True, on_behalf_of_organization: bool = True) -> str:
        """Walk the sign-in and consent pages like a browser; return the final redirect URL or raise SignInError."""
        session = requests.Session()
        response = session.get(authorize_url, allow_redirects=False, timeout=30, verify=self.verify)
        filled = {"signin": {"login": email, "passwd": password},
                  "consent": {"action": "accept" if accept else "cancel"}}
        if on_behalf_of_organization:
            filled["consent"]["consent_on_behalf"] = "true"
        seen = set()
        while response.status_code != 302:
            form = FORM.search(response.text)
            problem = ERROR.search(response.text)
            if form is None or form.group(1) in seen or (problem and form.group(1) == "signin"):
                message = unescape(problem.group(1)) if problem else response.text[:200]
                raise SignInError(message, response.status_code)
            seen.add(form.group(1))
            fields = {unescape(k): unescape(v) for k, v in HIDDEN.findall(form.group(3))}
            fields.update(filled[form.group(1)])
            response = session.post(urljoin(response.url, unescape(form.group(2))), data=fields,
                                    allow_redirects=False, timeout=30, verify=self.verify)
        return response.headers["Location"]

    def device_sign_in(self, verification_uri: str, user_code: str, email: str = demo.ADMIN_EMAIL,
                       password: str = demo.USER_PASSWORD, *, accept: bool = True,
                       on_behalf_of_organization: bool = True) -> str:
        """Enter a device's code on the verification page, sign in and consent; return the last page's text."""
        session = requests.Session()
        response = session.get(verification_uri, timeout=30, verify=self.verify)
        filled = {"devicecode": {"otc": user_code}, "signin": {"login": email, "passwd": password},
                  "consent": {"action": "accept" if accept else "cancel"}}
        if on_behalf_of_organization:
            filled["consent"]["consent_on_behalf"] = "true"
        seen = set()
        while (form := FORM.search(response.text)) is not None:
            problem = ERROR.search(response.text)
            if form.group(1) in seen or problem:
                raise SignInError(unescape(problem.group(1)) if problem else response.text[:200], response.status_code)
            seen.add(form.group(1))
            fields = {unescape(k): unescape(v) for k, v in HIDDEN.findall(form.group(3))}
            fields.update(filled[form.group(1)])
            response = session.post(urljoin(response.url, unescape(form.group(2))), data=fields, timeout=30,
                                    verify=self.verify)
        problem = ERROR.search(response.text)
        if problem:
            raise SignInError(unescape(problem.group(1)), response.status_code)
        done = re.search(r'id="done">(.*?)</p>', response.text, re.S)
        return unescape(done.group(1)) if done else response.text


def write_temp_json(data: dict) -> str:
    """Write a data set to a temporary file for --data."""
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8")
    with handle:
        json.dump(data, handle)
    return handle.name
