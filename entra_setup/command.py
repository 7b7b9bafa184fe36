"""`python -m entra_setup`: sign the administrator in with a device code, then do steps 1-5 through Graph."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, UTC

from entra_setup import declaration

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TIMEOUT = 30


class SetupError(Exception):
    """A step failed; the message is for the administrator."""


class MicrosoftRefused(Exception):
    """Microsoft answered an error: HTTP status, its error code and its message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def http(method: str, url: str, *, form: dict | None = None, body: dict | None = None,
         token: str | None = None) -> dict:
    """One request; JSON in and out; Microsoft's error bodies (identity or Graph) become MicrosoftRefused."""
    headers = {"Accept": "application/json"}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {}
        if isinstance(answer.get("error"), dict):
            raise MicrosoftRefused(error.code, answer["error"].get("code", ""),
                                   answer["error"].get("message", "")) from None
        raise MicrosoftRefused(error.code, str(answer.get("error", "")),
                               str(answer.get("error_description", "")).split("\r\n")[0]) from None
    except (urllib.error.URLError, TimeoutError) as error:
        raise SetupError(f"Microsoft could not be reached at {url.split('?')[0]}: {error}") from None
    return json.loads(raw) if raw else {}


def sign_in(authority: str, tenant: str, out, sleep=time.sleep) -> str:
    """The device code flow: print the code and the page, poll until the administrator has signed in."""
    scopes = " ".join(f"https://graph.microsoft.com/{s}" for s in declaration.ADMIN_SCOPES)
    base = f"{authority}/{urllib.parse.quote(tenant, safe='')}/oauth2/v2.0"
    try:
        device = http("POST", f"{base}/devicecode", form={"client_id": declaration.COMMAND_LINE_CLIENT_ID,
                                                         "scope": scopes})
    except MicrosoftRefused as error:
        raise SetupError(f"Microsoft refused the sign-in: {error.message}") from None
    print(f"\nSign in as an administrator of your Microsoft Entra tenant:\n"
          f"  open   {device['verification_uri']}\n  enter  {device['user_code']}\n"
          f"(The code is valid for {int(device['expires_in']) // 60} minutes. Ctrl+C cancels.)\n", file=out, flush=True)
    interval = int(device.get("interval", 5))
    deadline = time.monotonic() + int(device["expires_in"])
    while True:
        sleep(interval)
        try:
            answer = http("POST", f"{base}/token", form={"grant_type": DEVICE_CODE_GRANT, "device_code":
                                                        device["device_code"],
                                                        "client_id": declaration.COMMAND_LINE_CLIENT_ID})
            return answer["access_token"]
        except MicrosoftRefused as error:
            if error.code == "authorization_pending" and time.monotonic() < deadline:
                continue
            if error.code == "slow_down":
                interval += 5
                continue
            if error.code in ("authorization_pending", "expired_token"):
                raise SetupError("The code expired before anyone signed in with it. Run the command again.") from None
            if error.code == "authorization_declined":
                raise SetupError("The sign-in was declined. Nothing was changed.") from None
            raise SetupError(f"Microsoft refused the sign-in: {error.message}") from None


def tenant_of(token: str) -> str:
    """The tenant id (`tid`) of the administrator's access token."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["tid"]


def odata_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Setup:
    """The steps, each of which first looks whether it is done already (so a rerun finishes a stopped one)."""

    def __init__(self, graph_url: str, token: str, name: str, out, guide_permissions: bool = False):
        self.graph, self.token, self.name, self.out = graph_url, token, name, out
        self.permissions = declaration.permissions(guide_permissions)
        self.application: dict | None = None
        self.principal: dict | None = None
        self.done: list[str] = []

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        return http(method, f"{self.graph}{path}", body=body, token=self.token)

    def say(self, step: str, what: str) -> None:
        title = dict(declaration.STEPS)[step]
        print(f"  ✓ {title}: {what}", file=self.out, flush=True)
        self.done.append(f"{title} ({what})")

    def graph_roles(self) -> tuple[str, dict[str, str]]:
        """Microsoft Graph's service principal id in this tenant and its app role ids by permission name."""
        found = self.call("GET", "/servicePrincipals?$filter=" + urllib.parse.quote(
            f"appId eq {odata_quote(declaration.GRAPH_APP_ID)}"))["value"]
        if not found:
            raise SetupError("Microsoft Graph's service principal is missing from this tenant.")
        return found[0]["id"], {r["value"]: r["id"] for r in found[0].get("appRoles", [])}

    def find_or_create_application(self, role_ids: dict[str, str]) -> None:
        found = self.call("GET", "/applications?$filter=" + urllib.parse.quote(
            f"displayName eq {odata_quote(self.name)}"))["value"]
        if len(found) > 1:
            raise SetupError(f"{len(found)} app registrations are named {self.name!r}: choose another --name.")
        if found:
            self.application = found[0]
            self.say("application", f"found {self.name!r}, Client ID {found[0]['appId']}")
            return
        access = [{"id": role_ids[p], "type": "Role"} for p in self.permissions]
        self.application = self.call("POST", "/applications", {
            "displayName": self.name, "signInAudience": "AzureADMyOrg",
            "requiredResourceAccess": [{"resourceAppId": declaration.GRAPH_APP_ID, "resourceAccess": access}]})
        self.say("application", f"created {self.name!r}, Client ID {self.application['appId']}")

    def service_principal(self) -> None:
        app_id = self.application["appId"]
        found = self.call("GET", "/servicePrincipals?$filter=" + urllib.parse.quote(
            f"appId eq {odata_quote(app_id)}"))["value"]
        self.principal = found[0] if found else self.call("POST", "/servicePrincipals", {"appId": app_id})
        self.say("service_principal", "found" if found else "created")

    def grant_permissions(self, graph_principal_id: str, role_ids: dict[str, str]) -> None:
        held = {a["appRoleId"] for a in self.call("GET", f"/servicePrincipals/{self.principal['id']}"
                                                          "/appRoleAssignments")["value"]}
        for permission in self.permissions:
            if role_ids[permission] not in held:
                self.call("POST", f"/servicePrincipals/{self.principal['id']}/appRoleAssignments", {
                    "principalId": self.principal["id"], "resourceId": graph_principal_id,
                    "appRoleId": role_ids[permission]})
        self.say("permissions", ", ".join(self.permissions))

    def expose_scope(self) -> str:
        application = self.call("GET", f"/applications/{self.application['id']}")
        scopes = application["api"]["oauth2PermissionScopes"]
        mine = next((s for s in scopes if s["value"] == declaration.SCOPE["value"]), None)
        if mine is None:
            mine = {"id": str(uuid.uuid4()), "type": "Admin", "isEnabled": True, **declaration.SCOPE}
            changes = {"api": {"oauth2PermissionScopes": scopes + [mine]}}
            if not application["identifierUris"]:
                changes["identifierUris"] = [f"api://{application['appId']}"]
            self.call("PATCH", f"/applications/{application['id']}", changes)
        identifier = (application["identifierUris"] or ["api://" + application["appId"]])[0]
        self.say("scope", f"{identifier}/{declaration.SCOPE['value']}")
        return mine["id"]

    def pre_authorise(self, scope_id: str) -> None:
        application = self.call("GET", f"/applications/{self.application['id']}")
        clients = application["api"]["preAuthorizedApplications"]
        app_id = application["appId"]
        if not any(c["appId"] == app_id and scope_id in c["delegatedPermissionIds"] for c in clients):
            others = [c for c in clients if c["appId"] != app_id]
            self.call("PATCH", f"/applications/{application['id']}", {"api": {"preAuthorizedApplications": others + [
                {"appId": app_id, "delegatedPermissionIds": [scope_id]}]}})
        self.say("client", app_id)

    def add_secret(self, months: int) -> dict:
        end = datetime.now(UTC) + timedelta(days=round(months * 30.44))
        secret = self.call("POST", f"/applications/{self.application['id']}/addPassword", {"passwordCredential": {
            "displayName": declaration.CREDENTIAL_NAME, "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ")}})
        self.say("credential", f"client secret, expires {secret['endDateTime'][:10]}")
        return secret

    def add_certificate(self, pem: str) -> dict:
        """Keep the certificates already there (Update application replaces the list) and add this one."""
        der = pem_to_der(pem)
        current = self.call("GET", f"/applications/{self.application['id']}?$select=keyCredentials")["keyCredentials"]
        if not any(k.get("key") == base64.b64encode(der).decode() for k in current):
            keep = [{k: c[k] for k in ("keyId", "type", "usage", "key", "displayName")} for c in current]
            self.call("PATCH", f"/applications/{self.application['id']}", {"keyCredentials": keep + [{
                "type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(der).decode(),
                "displayName": declaration.CREDENTIAL_NAME}]})
        added = self.call("GET", f"/applications/{self.application['id']}?$select=keyCredentials")["keyCredentials"]
        key = next(k for k in added if k.get("key") == base64.b64encode(der).decode())
        self.say("credential", f"certificate {key['customKeyIdentifier']}, expires {key['endDateTime'][:10]}")
        return key


def pem_to_der(pem: str) -> bytes:
    """The DER bytes of a PEM certificate (what keyCredential.key carries, base64-encoded)."""
    lines = [line.strip() for line in pem.strip().splitlines()]
    if not lines or lines[0] != "-----BEGIN CERTIFICATE-----" or "-----END CERTIFICATE-----" not in lines:
        raise SetupError("The --certificate file is not a PEM certificate (-----BEGIN CERTIFICATE-----).")
    body = "".join(lines[1:lines.index("-----END CERTIFICATE-----")])
    return base64.b64decode(body)


def explain(error: MicrosoftRefused, step: str) -> str:
    """Microsoft's refusal in an administrator's words."""
    title = dict(declaration.STEPS)[step]
    doing = title[0].lower() + title[1:]
    if error.status == 403:
        return (f"Microsoft refused to {doing}: the account you signed in with lacks the administrator role for "
                "it. Sign in as a Global Administrator or Privileged Role Administrator (granting application "
                "permissions needs one).")
    return f"Microsoft refused to {doing}: {error.message} ({error.code})"


def run(setup: Setup, certificate_pem: str | None, secret_months: int) -> dict:
    """Every step in order; returns what to enter on the Sync page."""
    step = "application"
    try:
        graph_principal_id, role_ids = setup.graph_roles()
        missing = [p for p in setup.permissions if p not in role_ids]
        if missing:
            raise SetupError(f"Microsoft Graph in this tenant does not offer {', '.join(missing)}.")
        setup.find_or_create_application(role_ids)
        step = "service_principal"
        setup.service_principal()
        step = "permissions"
        setup.grant_permissions(graph_principal_id, role_ids)
        step = "scope"
        scope_id = setup.expose_scope()
        step = "client"
        setup.pre_authorise(scope_id)
        step = "credential"
        if certificate_pem:
            return {"certificate": setup.add_certificate(certificate_pem)}
        return {"secret": setup.add_secret(secret_months)}
    except MicrosoftRefused as error:
        raise SetupError(explain(error, step)) from None


def report_failure(setup: Setup | None, message: str, out) -> None:
    """What went wrong, what exists already, and how to finish or undo it."""
    print(f"\nStopped: {message}", file=out)
    if setup is None or not setup.done:
        print("Nothing was changed in your tenant.", file=out)
        return
    print("Already done:", file=out)
    for line in setup.done:
        print(f"  - {line}", file=out)
    if setup.application:
        print(f"To finish, an administrator runs the same command again with --name {setup.name!r}: it finds the "
              f"app and does only what is missing.\nTo undo, delete the app registration {setup.name!r} (Client ID "
              f"{setup.application['appId']}) in the Microsoft Entra admin center under App registrations, or run "
              f"this command with --delete --name {setup.name!r}.", file=out)


def delete(setup: Setup) -> None:
    """--delete: remove the app registration of that name (its Enterprise Application goes with it)."""
    found = setup.call("GET", "/applications?$filter=" + urllib.parse.quote(
        f"displayName eq {odata_quote(setup.name)}"))["value"]
    if len(found) != 1:
        raise SetupError(f"{len(found)} app registrations are named {setup.name!r}: nothing was deleted.")
    setup.call("DELETE", f"/applications/{found[0]['id']}")
    print(f"Deleted the app registration {setup.name!r} (Client ID {found[0]['appId']}).", file=setup.out)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m entra_setup", description=(
        "Register the Enterprise App Entra Team Sync needs in your Microsoft Entra tenant: sign in as an "
        "administrator with a code, then the app, its permissions (with admin consent), its scope and a "
        "credential are created, and the Tenant ID and Client ID are printed."))
    parser.add_argument("--name", default=declaration.DEFAULT_APP_NAME,
                        help=f"the app's name (default {declaration.DEFAULT_APP_NAME!r}); run again with the same "
                             "name to add a new credential")
    parser.add_argument("--certificate", metavar="FILE",
                        help="the certificate (.pem) the Azure Entra Sync page made for your team; without it a "
                             "client secret is made")
    parser.add_argument("--secret-months", type=int, default=declaration.SECRET_MONTHS,
                        help=f"lifetime of a client secret, 1 to {declaration.SECRET_MONTHS_MAX} months "
                             f"(default {declaration.SECRET_MONTHS})")
    parser.add_argument("--guide-permissions", action="store_true",
                        help="also grant Group.Read.All and User.Export.All, as the user guide lists them")
    parser.add_argument("--tenant", default="organizations",
                        help="your tenant's id or domain (default: the tenant of the account you sign in with)")
    parser.add_argument("--delete", action="store_true", help="delete the app registration of this --name")
    parser.add_argument("--authority", default=os.environ.get("ENTRA_AUTHORITY_URL",
                                                              "https://login.microsoftonline.com"))
    parser.add_argument("--graph", default=os.environ.get("GRAPH_API_URL", "https://graph.microsoft.com/v1.0"))
    args = parser.parse_args(argv)
    if not 1 <= args.secret_months <= declaration.SECRET_MONTHS_MAX:
        parser.error(f"--secret-months must be between 1 and {declaration.SECRET_MONTHS_MAX}")
    return args


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    certificate = None
    setup = None
    try:
        if args.certificate:
            try:
                with open(args.certificate, encoding="ascii") as handle:
                    certificate = handle.read()
            except (OSError, UnicodeDecodeError) as error:
                raise SetupError(f"The certificate file cannot be read: {error}") from None
            pem_to_der(certificate)
        token = sign_in(args.authority.rstrip("/"), args.tenant, out)
        setup = Setup(args.graph.rstrip("/"), token, args.name, out, args.guide_permissions)
        if args.delete:
            delete(setup)
            return 0
        print("Signed in. Setting up:", file=out, flush=True)
        result = run(setup, certificate, args.secret_months)
    except KeyboardInterrupt:
        report_failure(setup, "cancelled.", out)
        return 130
    except (SetupError, MicrosoftRefused) as error:
        report_failure(setup, str(error), out)
        return 1
    print("\nDone. On the Azure Entra Sync page, under Create Your Own Enterprise App, enter:", file=out)
    print(f"  Tenant ID:      {tenant_of(token)}", file=out)
    print(f"  Client ID:      {setup.application['appId']}", file=out)
    if "secret" in result:
        secret = result["secret"]
        print(f"  Client Secret:  {secret['secretText']}", file=out)
        print(f"  Secret expires: {secret['endDateTime'][:10]}", file=out)
        print("The secret is shown this once: copy it now. Before it expires, run this command again with the "
              "same --name for a new one.", file=out)
    else:
        print(f"  Certificate:    {result['certificate']['customKeyIdentifier']} (the one your team's page made), "
              f"expires {result['certificate']['endDateTime'][:10]}", file=out)
    return 0
