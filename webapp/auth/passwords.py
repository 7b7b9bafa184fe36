"""Password policy and hashing: argon2id at OWASP's recommended cost, older hashes upgraded at sign-in."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 1024  # long passphrases are welcome; the bound only keeps hashing cheap

hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Checked when the email matches no account that can sign in, so the answer takes as long as a real check.
_DUMMY_HASH = hasher.hash("no account has this password")


class PasswordPolicyError(ValueError):
    """A password that the policy refuses; the message says why, in the leader's words."""


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None: a length rule only (no composition rules)."""
    if len(password) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters long."
    if len(password) > MAX_LENGTH:
        return f"The password must be at most {MAX_LENGTH} characters long."
    return None


def hash_password(password: str) -> str:
    """The argon2id hash of a password the policy accepts."""
    problem = password_problem(password)
    if problem:
        raise PasswordPolicyError(problem)
    return hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether the password matches; without a stored hash, a dummy check of the same cost answers False."""
    if not stored_hash:
        _argon2_matches(_DUMMY_HASH, password)
        return False
    if stored_hash.startswith("$argon2"):
        return _argon2_matches(stored_hash, password)
    return check_password_hash(stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash that just verified should be replaced by one at the current cost."""
    return not stored_hash.startswith("$argon2") or hasher.check_needs_rehash(stored_hash)


def _argon2_matches(stored_hash: str, password: str) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def upgraded_hash(password: str) -> str:
    """The current-cost hash of a password that just verified (the policy applies to new passwords only)."""
    return hasher.hash(password)
