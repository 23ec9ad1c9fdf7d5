"""The Markdown Quarto inserts for an inline expression's value (quarto-cli src/core/jupyter/jupyter-inline.ts)."""

from __future__ import annotations

import re

#: The representations of an inline value the renderer reads (Quarto's choice among them: inline_markdown).
INLINE_TEXT_MIMES = ("text/markdown", "text/html", "text/latex", "text/plain")


#: What Quarto escapes in a plain-text inline value (quarto-cli src/core/jupyter/jupyter-inline.ts,
#: asEscapedMarkdown: the JavaScript class ``[\\`*_{}\[\]()>#+-.!]``, whose ``+-.`` is the range ``+ , - .``).
_QUARTO_ESCAPED = re.compile(r"([\\`*_{}\[\]()>#+,\-.!])")


def quarto_plain_markdown(text: str) -> str:
    """A ``text/plain`` inline value as Quarto inserts it into the Markdown (asEscapedMarkdown).

    A value in quotes (the repr of a ``str``) loses its quotes, every backslash is doubled, and then every
    Markdown character, the new backslashes included, is escaped. So ``"1\\xa0296"`` (repr ``'1\\xa0296'``)
    becomes ``1\\\\\\\\xa0296`` and reads ``1\\\\xa0296`` in the output, and ``"*high risk*"`` reads
    ``*high risk*``, asterisks and all. Anything else (a number's repr) is inserted as it is.
    """
    if (text.startswith("'") and text.endswith("'")) or (text.startswith('"') and text.endswith('"')):
        return _QUARTO_ESCAPED.sub(r"\\\1", text[1:-1].replace("\\", "\\\\"))
    return text


def _has_html_table(html: str) -> bool:
    lower = html.lower()
    return "<table" in lower and "</table" in lower


def inline_value_for(data: dict[str, str], fmt: str) -> str:
    """The Markdown Quarto puts in place of an inline expression for one output format ('html' or 'pdf').

    ``data`` is the value's mime bundle as IPython formats it (``text/plain`` always; ``text/markdown`` for
    :class:`IPython.display.Markdown` or an object with ``_repr_markdown_``; ...). Quarto's rule
    (quarto-cli src/core/jupyter/jupyter-inline.ts with display-data.ts): HTML prefers ``text/html`` (kept as
    raw HTML), then ``text/markdown`` (inserted verbatim); other formats ``text/markdown``, then ``text/html``
    only when it holds a table; last ``text/plain``, escaped by :func:`quarto_plain_markdown`. So a ``str``
    shows its repr without the quotes, never Markdown, and a number its repr (``np.float64(0.5)``).
    """
    order = ["text/html", "text/markdown"] if fmt == "html" else ["text/markdown"]
    if fmt != "html" and _has_html_table(data.get("text/html", "")):
        order.append("text/html")
    for mime in order + ["text/plain"]:
        if mime in data:
            text = data[mime]
            if mime == "text/html":
                fence = "`" * (1 + max((len(m) for m in re.findall("`+", text)), default=0))
                pad = " " if text.startswith("`") or text.endswith("`") else ""
                return f"{fence}{pad}{text}{pad}{fence}{{=html}}"
            if mime == "text/markdown":
                return text
            return quarto_plain_markdown(text)
    return ""


def inline_markdown(data: dict[str, str]) -> str:
    """The Markdown of an inline value for both outputs: one text, or an HTML and a non-HTML alternative."""
    html, other = inline_value_for(data, "html"), inline_value_for(data, "pdf")
    if html == other:
        return html
    return (f'[{html}]{{.content-visible when-format="html"}}'
            f'[{other}]{{.content-hidden when-format="html"}}')
