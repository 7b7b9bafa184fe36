"""The small HTML pages of the fake sign-in: account, consent and error."""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

STYLE = ("body{font-family:Segoe UI,Arial,sans-serif;background:#f2f2f2;margin:0}"
         "main{background:#fff;max-width:440px;margin:60px auto;padding:36px;box-shadow:0 2px 6px #0003}"
         "h1{font-size:24px;font-weight:600}input[type=text],input[type=password]{width:100%;padding:6px;"
         "margin:6px 0 14px;box-sizing:border-box}button{background:#0067b8;color:#fff;border:0;padding:8px 24px;"
         "margin-right:8px}button.secondary{background:#ccc;color:#000}.error{color:#a80000}small{color:#666}")


def page(title: str, body: str, status: int = 200) -> Response:
    """A full HTML page in the fake Microsoft look."""
    html = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><main><p><strong>Microsoft</strong> <small>(local emulator)"
            f"</small></p>{body}</main></body></html>")
    return Response(html, status, content_type="text/html; charset=utf-8")


def hidden(fields: dict[str, str]) -> str:
    """Hidden inputs carrying the flow between pages."""
    return "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())


def sign_in_page(action: str, flow_id: str, app_name: str, accounts: list[str], login: str = "",
                 error: str = "") -> Response:
    """Pick or enter an account and its password."""
    problem = f'<p class="error" id="error">{escape(error)}</p>' if error else ""
    options = "".join(f'<option value="{escape(a)}">' for a in accounts)
    return page("Sign in to your account", (
        f"<h1>Sign in</h1><p>to continue to <strong>{escape(app_name)}</strong></p>{problem}"
        f'<form id="signin" method="post" action="{escape(action)}">'
        f"{hidden({'flow': flow_id, 'step': 'login'})}"
        f'<label>Email or username<input type="text" name="login" value="{escape(login)}" list="accounts" '
        f'autofocus></label><datalist id="accounts">{options}</datalist>'
        '<label>Password<input type="password" name="passwd"></label>'
        "<button type=\"submit\">Sign in</button></form>"))


def consent_page(action: str, flow_id: str, app_name: str, account: str, permissions: list[str],
                 offer_org: bool, admin_consent: bool) -> Response:
    """Permissions requested, with Accept and Cancel."""
    items = "".join(f"<li>{escape(p)}</li>" for p in permissions) or "<li>Sign you in</li>"
    org = ('<p><label><input type="checkbox" name="consent_on_behalf" value="true"> '
           "Consent on behalf of your organization</label></p>") if offer_org else ""
    heading = "Permissions requested — Accept for your organization" if admin_consent else "Permissions requested"
    return page("Permissions requested", (
        f"<h1>{heading}</h1><p>Signed in as {escape(account)}</p>"
        f"<p><strong>{escape(app_name)}</strong> would like to:</p><ul>{items}</ul>"
        f'<form id="consent" method="post" action="{escape(action)}">'
        f"{hidden({'flow': flow_id, 'step': 'consent'})}{org}"
        '<button type="submit" name="action" value="accept">Accept</button>'
        '<button type="submit" name="action" value="cancel" class="secondary">Cancel</button></form>'))


def error_page(code: int, message: str, status: int = 400) -> Response:
    """An error Microsoft shows on its own page instead of redirecting."""
    return page("Sign in error", (
        f'<h1>Sorry, but we’re having trouble signing you in.</h1><p class="error" id="error">'
        f"AADSTS{code}: {escape(message)}</p>"), status)


def device_code_page(action: str, code: str = "", error: str = "") -> Response:
    """Enter the code a device shows (the first page of the device authorization grant)."""
    problem = f'<p class="error" id="error">{escape(error)}</p>' if error else ""
    return page("Enter code", (
        f"<h1>Enter code</h1><p>Enter the code displayed on your app or device.</p>{problem}"
        f'<form id="devicecode" method="post" action="{escape(action)}">'
        f'<label>Code<input type="text" name="otc" value="{escape(code)}" autofocus></label>'
        '<button type="submit">Next</button></form>'))


def device_done_page(app_name: str, accepted: bool) -> Response:
    """The end of a device sign-in, as Microsoft words it."""
    text = (f"You have signed in to the {app_name} application on your device. You may now close this window."
            if accepted else "You declined to sign in on your device. You may now close this window.")
    return page("Device sign-in", f'<h1>{escape(app_name)}</h1><p id="done">{escape(text)}</p>')
