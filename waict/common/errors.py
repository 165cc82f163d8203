"""The error family of the tools: each says what went wrong and what to do about it."""

from __future__ import annotations


class SiteToolError(Exception):
    """A failure of a site tool: says what went wrong and what to do about it.

    ``exit_code`` is what the command exits with (2: usage, input or network errors).
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = str(self.args[0]) if self.args else ""
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class NetworkError(SiteToolError):
    """A server could not be reached or answered with an error."""


class UnexpectedLogError(SiteToolError):
    """The transparency log answered something that must not happen (history rewritten,
    a head that does not link, a proof that does not verify)."""

    exit_code = 1


class KeyFileError(SiteToolError):
    """A key file that cannot be used: missing, unreadable, or not a base64 Ed25519 seed."""
