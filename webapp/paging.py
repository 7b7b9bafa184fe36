"""Paging shared by the lists: the page a request asks for, and one page of a query."""
from typing import Any

from flask import abort, request
from peewee import Query

NOT_A_PAGE = "The page number must be a whole number from 1 up, such as page=2."
PAGE_DIGITS = 100  # more is not a page number anyone typed, and Python refuses to parse thousands of digits


def page_arg(name: str = "page") -> int:
    """The 1-based page number in the query string, 1 when it is missing; anything else is refused with a 400."""
    text = request.args.get(name, "").strip()
    if not text:
        return 1
    if not text.isascii() or not text.isdigit() or len(text) > PAGE_DIGITS or int(text) < 1:
        abort(400, description=NOT_A_PAGE)
    return int(text)


def check_page(page: int, last_page: int) -> None:
    """A page past the last one is a 404 that says how many pages there are."""
    if page > last_page:
        plural = "page" if last_page == 1 else "pages"
        abort(404, description=f"There is no page {page}: this list has {last_page} {plural}.")


def last_page_of(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def page_numbers(page: int, per_page: int, total: int) -> dict[str, int]:
    """The paging numbers of a list of `total` rows; a page past the last one is a 404."""
    last_page = last_page_of(total, per_page)
    check_page(page, last_page)
    return {"total": total, "page": page, "last_page": last_page}


def page_of(query: Query, page: int, per_page: int, total: int | None = None) -> dict[str, Any]:
    """One page of an ordered query and the paging numbers; `total` when the caller already knows it."""
    numbers = page_numbers(page, per_page, query.count() if total is None else total)
    return {"rows": list(query.paginate(page, per_page)), **numbers}
