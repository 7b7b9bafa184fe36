"""Small helpers shared by the emulator's tests."""

from __future__ import annotations

import requests


def graph_get(server, path: str, token: str, **headers) -> requests.Response:
    """GET a Graph path (relative to /v1.0) or an absolute next link."""
    url = path if path.startswith("http") else f"{server.graph_url}{path}"
    return requests.get(url, headers={"Authorization": f"Bearer {token}", **headers}, timeout=30)


def follow(server, path: str, token: str, **headers) -> tuple[list[dict], list[dict]]:
    """Every entry of a listing, following @odata.nextLink; also the raw pages."""
    pages, url = [], path
    while url:
        response = graph_get(server, url, token, **headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = pages[-1].get("@odata.nextLink")
    return [entry for page in pages for entry in page["value"]], pages
