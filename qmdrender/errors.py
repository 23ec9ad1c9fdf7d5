"""The renderer's one error, :class:`RenderError`, and the helpers that make a message one line."""

from __future__ import annotations

import re


class RenderError(Exception):
    """A failure to report as one line; ``status`` 2 = the document's fault, 1 = the toolchain's."""

    def __init__(self, message: str, status: int = 1, detail: str = ""):
        super().__init__(message)
        self.status = status
        self.detail = detail


ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


def one_line(text: str, limit: int = 400) -> str:
    text = re.sub(r"\s*\n\s*", " ", strip_ansi(str(text))).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
