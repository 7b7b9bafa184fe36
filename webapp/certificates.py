"""Key pairs for a team's Enterprise App: made here, the private key encrypted at rest, the certificate handed out."""
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from webapp.crypto import SecretBox
from webapp.microsoft import ClientCertificate
from webapp.models import TeamCertificate, utcnow

CERTIFICATE_DAYS = 365


def make_certificate(team_id: int, secret_box: SecretBox, days: int = CERTIFICATE_DAYS) -> TeamCertificate:
    """A new self-signed RSA 2048 certificate for the team; the team's older ones stay until no longer used."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Entra Team Sync, team {team_id}")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=days))
                   .sign(key, hashes.SHA256()))
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    return TeamCertificate.create(
        team=team_id, certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_encrypted=secret_box.encrypt(private_pem),
        thumbprint=certificate.fingerprint(hashes.SHA1()).hex().upper(),
        expires_at=certificate.not_valid_after_utc.replace(tzinfo=None), created_at=utcnow())


def newest_certificate(team_id: int) -> TeamCertificate | None:
    """The certificate the page offers the team now, or None."""
    return (TeamCertificate.select().where(TeamCertificate.team == team_id)
            .order_by(TeamCertificate.created_at.desc(), TeamCertificate.id.desc()).first())


def client_certificate(row: TeamCertificate, secret_box: SecretBox) -> ClientCertificate:
    """What the token provider signs client assertions with."""
    return ClientCertificate(secret_box.decrypt(row.private_key_encrypted), row.certificate_pem)


def download_name(team_id: int) -> str:
    return f"entra-team-sync-team-{team_id}.pem"
