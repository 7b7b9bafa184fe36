"""Client for the Microsoft identity platform and Graph; imports nothing from Flask, RQ or the database."""

from .errors import (ApplicationNotInTenant, CertificateRefused, ConnectionExpired, ConsentRequired, DeltaExpired,
                     ExpiredClientSecret, GroupNotFound, IncompleteListing, InvalidClientSecret, MembershipMismatch,
                     MicrosoftError, NetworkError, PermissionDenied, ServiceUnavailable, SlowToAnswer, TenantNotFound,
                     Throttled, TokenRejected, TooManyWaiting, UnexpectedResponse)
from .graph import DeltaResult, GraphClient
from .http import RetryPolicy, Transport
from .tenants import tenant_guid
from .tokens import AppOnlyTokenProvider, ClientCertificate, DelegatedTokenProvider
from .users import EntraUser, to_entra_user
from .validation import client_id_error, client_secret_error, enterprise_app_errors, tenant_id_error

__all__ = [
    "AppOnlyTokenProvider", "ApplicationNotInTenant", "CertificateRefused", "ClientCertificate", "ConnectionExpired",
    "ConsentRequired", "DelegatedTokenProvider",
    "DeltaExpired", "DeltaResult", "EntraUser", "ExpiredClientSecret", "GraphClient", "GroupNotFound",
    "IncompleteListing", "InvalidClientSecret", "MembershipMismatch", "MicrosoftError", "NetworkError",
    "PermissionDenied", "RetryPolicy", "ServiceUnavailable", "SlowToAnswer", "TenantNotFound", "Throttled",
    "TokenRejected", "TooManyWaiting", "Transport", "UnexpectedResponse",
    "client_id_error", "client_secret_error", "enterprise_app_errors", "tenant_guid", "tenant_id_error",
    "to_entra_user",
]
