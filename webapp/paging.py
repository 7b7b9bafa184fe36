"""Paging shared by the lists: the page a request asks for, and one page of a query."""
from flask import request


def page_arg(name="page"):
    """The 1-based page number in the query string; 1 when it is missing or not a number."""
    try:
        return max(1, int(request.args.get(name, 1)))
    except ValueError:
        return 1


def page_of(query, page, per_page, total=None):
    """One page of an ordered query and the paging numbers; `total` when the caller already knows it."""
    total = query.count() if total is None else total
    last_page = max(1, -(-total // per_page))
    page = min(max(page, 1), last_page)
    return {"rows": list(query.paginate(page, per_page)), "total": total, "page": page, "last_page": last_page}
