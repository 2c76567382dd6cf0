"""Password hashing with scrypt (RFC 7914, Python's ``hashlib.scrypt``): memory-hard, salted, versioned.

Stored as ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` so the cost can be raised later: a hash made with
older parameters still verifies, and ``needs_rehash`` tells the caller to store a fresh one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["PasswordPolicyError", "check_policy", "hash_password", "needs_rehash", "verify_password"]

N, R, P = 2**15, 8, 1
_DKLEN = 32
_MAXMEM = 128 * 1024 * 1024
MIN_LENGTH = 10
MAX_LENGTH = 200


class PasswordPolicyError(ValueError):
    """A new password is too short, too long or too plain; the message is Chinese, for the form."""


def check_policy(password: str, username: str = "") -> None:
    """Refuse passwords that are easy to guess: short, one kind of character, or the user name."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"密码至少需要 {MIN_LENGTH} 位。")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"密码不能超过 {MAX_LENGTH} 位。")
    if len(set(password)) < 4:
        raise PasswordPolicyError("密码太简单：请混用字母、数字和符号。")
    if username and username.lower() in password.lower():
        raise PasswordPolicyError("密码不能包含用户名。")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_DKLEN)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A new salted hash of ``password`` with the current cost parameters."""
    salt = secrets.token_bytes(16)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored``; a malformed ``stored`` value never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _derive(password[:MAX_LENGTH], base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with other cost parameters than today's."""
    return not stored.startswith(f"scrypt${N}${R}${P}$")


# A valid hash of nothing anyone knows: checked when the user name does not exist, so that a wrong name
# costs as much time as a wrong password and names cannot be discovered by timing.
DUMMY_HASH = "scrypt$32768$8$1$9XNuUPPYaCqt/L8wzpR65g==$ZWZXhZT/f22mT7WyJbphev+3YUFALcvn+mkorK1NEfY="
