"""What every request must satisfy before a view sees it, and how a refused request is answered.

Ids in URLs fit PostgreSQL's bigint; query strings and form fields carry no control characters (PostgreSQL
text cannot hold NUL, and a line break in a redirect target would split a header). A refusal is a 400 or 404
whose message says what was wrong: on the error page, or for htmx in a fragment swapped into the page's
problem slot (base.html), since the fragment the request aimed at cannot be drawn.
"""
import logging
import unicodedata

from flask import Flask, abort, render_template, request
from flask_wtf.csrf import CSRFError
from htmx_flask import request as htmx_request
from werkzeug.exceptions import BadRequest, HTTPException, NotFound
from werkzeug.routing import BaseConverter

log = logging.getLogger(__name__)
BIGINT_MAX = 2**63 - 1
NOT_FOUND = "There is nothing here, or it is not yours to see."
FORM_EXPIRED = ("The form had expired. Reload the page and try again. Nothing was changed: the page was opened "
                "before your current sign-in (or its form token was missing), so the portal could not tell the form "
                "was yours.")
CONTROL_CHARACTERS = ("Text with control characters (such as NUL or a line break) cannot be used here. "
                      "Remove them and try again.")


def numbers_up_to(limit: int) -> str:
    """A regular expression for the whole numbers from 1 to `limit`, written without leading zeros."""
    digits = str(limit)
    same_length = [digits[:at] + f"[{1 if at == 0 else 0}-{int(digit) - 1}]" + rf"\d{{{len(digits) - at - 1}}}"
                   for at, digit in enumerate(digits) if int(digit) > (1 if at == 0 else 0)]
    return "|".join([rf"[1-9]\d{{0,{len(digits) - 2}}}", *same_length, digits])


class IdConverter(BaseConverter):
    """A database id in a URL: a whole number from 1 to PostgreSQL's bigint maximum, else the route does not match.

    The bound is in the pattern itself: a value the pattern accepts and the converter refused would let Werkzeug
    answer 405 instead of 404 on a URL that has both a GET and a POST view.
    """

    regex = numbers_up_to(BIGINT_MAX)

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(int(value))


def has_control_character(text: str) -> bool:
    """Whether `text` holds a control character (NUL, line breaks, escape, DEL, the C1 range); tabs are allowed."""
    return any(unicodedata.category(char) == "Cc" and char != "\t" for char in text)


def refuse_control_characters() -> None:
    """Refuse a request whose query string or form carries a control character in a name or value."""
    for values in (request.args, request.form):
        for name, value in values.items(multi=True):
            if has_control_character(name) or has_control_character(value):
                abort(400, description=CONTROL_CHARACTERS)


def answer(error: HTTPException, title: str, message: str) -> tuple[str, int, dict[str, str]] | tuple[str, int]:
    """The refusal: in the page's problem slot for htmx, else on the error page."""
    status = error.code or 500
    if htmx_request.htmx:
        fragment = render_template("_request_problem.html", message=message)
        return fragment, status, {"HX-Retarget": "#request-problem", "HX-Reswap": "outerHTML"}
    return render_template("error.html", title=title, message=message), status


def bad_request(error: BadRequest) -> tuple[str, int, dict[str, str]] | tuple[str, int]:
    if isinstance(error, CSRFError):
        log.warning("Form refused on %s %s: %s", request.method, request.path, error.description)
        return answer(error, "Form expired", FORM_EXPIRED)
    return answer(error, "This request cannot be used", error.description)


def not_found(error: NotFound) -> tuple[str, int, dict[str, str]] | tuple[str, int]:
    """A view's own 404 message (a page past the last one) is shown; any other 404 says only that it is not here."""
    told = error.description if error.description != NotFound.description else NOT_FOUND
    return answer(error, "Not found", told)


def init_app(app: Flask) -> None:
    """Register the id converter, the control-character check and the 400 and 404 answers (before any blueprint)."""
    app.url_map.converters["id"] = IdConverter
    app.before_request(refuse_control_characters)
    app.register_error_handler(BadRequest, bad_request)
    app.register_error_handler(NotFound, not_found)
