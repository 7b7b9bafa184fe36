"""The Azure Entra Sync page: connect a tenant, choose the Sync Group and its users, save and sync."""
from flask import Blueprint

bp = Blueprint("sync", __name__)
PAGE = "/teams/<id:team_id>/entra-sync"

from webapp.sync import emails, enterprise, lookup, oauth, page, picker  # noqa: E402,F401  (they add the routes to bp)
