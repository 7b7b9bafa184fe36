"""Encryption at rest for secrets and tokens (Fernet, with key rotation)."""
from collections.abc import Iterable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    """Encrypts with the first key of ENCRYPTION_KEY and decrypts with any of them."""

    def __init__(self, keys: str | Iterable[str]) -> None:
        keys = [k.strip() for k in keys.split(",") if k.strip()] if isinstance(keys, str) else list(keys)
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("a stored secret could not be decrypted with ENCRYPTION_KEY") from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the first key what any of the keys decrypts."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("a stored secret could not be decrypted with ENCRYPTION_KEY") from exc


def development_key(instance_dir: Path) -> str:
    """A key kept under instance/ so development data survives restarts."""
    path = instance_dir / "encryption.key"
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()
