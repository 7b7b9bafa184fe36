"""The device authorization grant: /devicecode, the code-entry page, and the device_code grant's polling answers."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from fake_entra.authorize import Flow
from fake_entra.identity import ScopeError, TokenError, parse_scopes
from fake_entra.pages import device_code_page, device_done_page, error_page
from fake_entra.tokens import Grant

if TYPE_CHECKING:
    from fake_entra.server import Emulator

USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ23456789"
DECLINED = "AADSTS65004: User declined to consent to access the app."


@dataclass
class DeviceFlow:
    """One device sign-in, from /devicecode until its token is taken or it expires."""

    device_code: str
    user_code: str
    client_id: str
    tenant_name: str
    oidc: list[str]
    permissions: list[str]
    expires: float
    interval: int
    last_poll: float = 0.0
    grant: Grant | None = None
    declined: bool = False


class DeviceFlows:
    """The device flows in progress, by device code and by user code."""

    lifetime: float = 900.0
    interval: int = 5

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.by_device: dict[str, DeviceFlow] = {}
        self.lock = threading.Lock()

    def clear(self) -> None:
        """Forget every device flow and restore the default lifetime and interval."""
        with self.lock:
            self.by_device.clear()
        self.lifetime, self.interval = DeviceFlows.lifetime, DeviceFlows.interval

    def start(self, authority: str, tenant_name: str, request: Request) -> dict:
        """POST /{tenant}/oauth2/v2.0/devicecode: a device code, a user code and where to enter it."""
        client_id = request.form.get("client_id", "")
        if not client_id:
            raise TokenError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'client_id'.")
        app = self.emulator.directory.apps.get(client_id)
        if app is None:
            raise TokenError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the directory "
                             f"'{tenant_name}'.")
        if not app.public_client:
            raise TokenError(400, "invalid_client", 7000218,
                             "The request body must contain the following parameter: 'client_assertion' or "
                             "'client_secret'.")
        scope = request.form.get("scope", "")
        if not scope:
            raise TokenError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'scope'.")
        try:
            oidc, permissions, default = parse_scopes(scope)
        except ScopeError as exc:
            raise TokenError(400, "invalid_scope", 70011, f"The provided value for the input parameter 'scope' is "
                                                          f"not valid. The scope {exc} is not valid.") from None
        if default:
            permissions = sorted(set(permissions) | app.delegated_permissions)
        user_code = "".join(secrets.choice(USER_CODE_LETTERS) for _ in range(9))
        flow = DeviceFlow("DAQABAAEAAA" + secrets.token_urlsafe(96), user_code, client_id, tenant_name, oidc,
                          permissions, time.time() + self.lifetime, self.interval)
        with self.lock:
            self.by_device[flow.device_code] = flow
        uri = f"{authority}/devicelogin"
        return {"user_code": user_code, "device_code": flow.device_code, "verification_uri": uri,
                "expires_in": int(self.lifetime), "interval": self.interval,
                "message": f"To sign in, use a web browser to open the page {uri} and enter the code {user_code} "
                           "to authenticate."}

    def poll(self, tenant_name: str, form) -> Grant:
        """The device_code grant: the user's grant once approved, else the polling error Microsoft answers."""
        with self.lock:
            flow = self.by_device.get(form.get("device_code", ""))
        if flow is None or flow.client_id != form.get("client_id") or flow.tenant_name.lower() != tenant_name.lower():
            raise TokenError(400, "bad_verification_code", 70018,
                             "Invalid verification code due to User typing in wrong user code for device code "
                             "flow. Authorization is not approved.")
        if time.time() > flow.expires:
            raise TokenError(400, "expired_token", 70019, "Verification code expired. Have the user retry the "
                                                          "sign-in.")
        if flow.declined:
            raise TokenError(400, "authorization_declined", 65004, DECLINED[len("AADSTS65004: "):])
        if flow.grant is None:
            raise TokenError(400, "authorization_pending", 70016,
                             "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
        with self.lock:
            self.by_device.pop(flow.device_code, None)
        return flow.grant

    def page(self, request: Request) -> Response:
        """GET/POST /devicelogin: enter the code, then the usual sign-in and consent pages."""
        if request.method == "GET" or "otc" not in request.form:
            if request.method == "POST" and request.form.get("flow"):
                return self.emulator.authorizer.handle(request, "/devicelogin", "organizations", "")
            return device_code_page(request.path)
        code = request.form.get("otc", "").strip().upper().replace("-", "")
        with self.lock:
            flow = next((f for f in self.by_device.values() if f.user_code == code), None)
        if flow is None:
            return device_code_page(request.path, code, "That code didn't work. Check the code and try again. "
                                                        "(AADSTS70018)")
        if time.time() > flow.expires:
            return device_code_page(request.path, code, "That code has expired. Go back to your device and start "
                                                        "again. (AADSTS70019)")
        app = self.emulator.directory.apps[flow.client_id]
        sign_in = Flow("device", flow.tenant_name, app, "", None, oidc=flow.oidc, permissions=flow.permissions,
                       device_code=flow.device_code)
        return self.emulator.authorizer.remember(request, sign_in)

    def finish(self, flow: Flow, accepted: bool) -> Response:
        """The sign-in on the page ended: the device's next poll gets its tokens, or the refusal."""
        with self.lock:
            device = self.by_device.get(flow.device_code or "")
        if device is None:
            return error_page(70019, "Verification code expired. Have the user retry the sign-in.")
        if not accepted:
            device.declined = True
            return device_done_page(flow.app.display_name, False)
        device.grant = Grant(flow.tenant.id, flow.user["id"], flow.app.client_id, flow.oidc + flow.permissions,
                             time.time())
        return device_done_page(flow.app.display_name, True)

