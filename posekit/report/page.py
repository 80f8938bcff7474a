"""The pieces every ``posekit report`` page is made of: one style, the page frame, tables,
embedded PNGs and plotly figures (plotly.js inlined once per page, so pages work offline,
or, ``[report] plotly_js = "shared"``, loaded from one file beside the pages)."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.io as pio

from posekit.io.atomic import write_text_atomic

#: the file that holds plotly.js for pages made with ``[report] plotly_js = "shared"``
PLOTLY_JS = "plotly.min.js"

#: the page's style; figures keep at least a phone's width (320 px), so that a window
#: squeezed to almost nothing (or a browser reporting a width of 0 for a moment) scrolls
#: instead of giving plotly.js negative sizes, which it logs as console errors
STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;
color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;
padding:.2em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}img{max-width:100%}
h2{border-bottom:1px solid #ddd;margin-top:1.6em}.note{color:#666}
.warn{color:#b00020}ul.warn li{margin:.3em 0}.ok{color:#1b7a2f}
.plotly-graph-div{min-width:320px}"""


#: Makes the header cells of every ``<table class="sortable">`` sort its rows on a click
#: (a second click: the other way round): numbers (``0.93``, ``97.5 %``, ``12 mm``) by
#: value, other text in natural order (``t2`` before ``t10``), empty cells (``–``) last
#: either way; a row with a cell spanning columns (a page that failed) stays below.
SORTABLE = """<script>
document.querySelectorAll('table.sortable').forEach(table => {
  const number = /^[-+]?(\\d+\\.?\\d*|\\.\\d+)(e[-+]?\\d+)?( ?[a-z%\u00b0\u00b5]+)?$/i;
  const value = (row, i) => {
    const text = row.cells[i].textContent.trim();
    return text === '' || text === '\u2013' ? null : number.test(text) ? parseFloat(text) : text;
  };
  const compare = (a, b) => typeof a === 'number' && typeof b === 'number' ? a - b
    : String(a).localeCompare(String(b), undefined, {numeric: true});
  table.querySelectorAll('tr:first-child th').forEach((th, i) => {
    th.style.cursor = 'pointer';
    th.title = 'click to sort';
    th.addEventListener('click', () => {
      const dir = th.dataset.sorted === 'up' ? -1 : 1;
      table.querySelectorAll('th').forEach(h => delete h.dataset.sorted);
      th.dataset.sorted = dir > 0 ? 'up' : 'down';
      const rows = [...table.querySelectorAll('tr')].slice(1);
      const fixed = rows.filter(r => [...r.cells].some(c => c.colSpan > 1));
      const sorted = rows.filter(r => !fixed.includes(r)).sort((a, b) => {
        const va = value(a, i), vb = value(b, i);
        if (va === null || vb === null) return (va === null) - (vb === null);
        return dir * compare(va, vb);
      });
      [...sorted, ...fixed].forEach(r => r.parentNode.appendChild(r));
    });
  });
});
</script>"""


#: the id of the JSON a page keeps in its head about how it was made (:func:`page_meta`)
META_ID = "posekit-page"
_META = re.compile(r'<script type="application/json" id="' + META_ID + r'">(.*?)</script>',
                   re.DOTALL)


def _script_json(value: Any) -> str:
    """``value`` as JSON that can stand inside a ``<script>`` element (no ``</``)."""
    return json.dumps(value, sort_keys=True, default=float).replace("</", "<\\/")


def link(target: Path, start: Path) -> str:
    """The address of ``target`` relative to the folder ``start``, with ``/``."""
    return os.path.relpath(target, start).replace(os.sep, "/")


def page(title: str, body: str, meta: Mapping[str, Any] | None = None) -> str:
    """A whole page; ``meta``, JSON about how the page was made, goes in its head, where
    :func:`page_meta` reads it back without reading the rest."""
    kept = ""
    if meta is not None:
        kept = (f"<script type=\"application/json\" id=\"{META_ID}\">{_script_json(meta)}"
                "</script>")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style>{kept}</head>"
            f"<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


def page_meta(path: Path, head_bytes: int = 1 << 16) -> dict[str, Any] | None:
    """The ``meta`` a page was written with (:func:`page`), from its first ``head_bytes``
    bytes; None when the page is missing or holds none (an older posekit's, or damaged)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(head_bytes).decode("utf-8", errors="replace")
    except OSError:
        return None
    found = _META.search(head.split("</head>", 1)[0])
    try:
        meta = json.loads(found.group(1)) if found else None
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


def img(path: Path, alt: str, missing: str | None = None) -> str:
    """``path`` embedded as an image; when it does not exist, a note: ``missing`` (why it
    is not there), or that it was not found."""
    if not path.is_file():
        why = missing or f"{path.name} not found."
        return f"<p class=\"note\">{html.escape(why)}</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img alt=\"{html.escape(alt)}\" src=\"data:image/png;base64,{data}\">"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "–" if not np.isfinite(v) else f"{v:.3g}"
        return "–" if v is None else html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_plotly_js(reports: Path) -> Path:
    """``reports/plotly.min.js``: the plotly.js of this installation, for pages made with
    :func:`plotly_script`; rewritten only when it differs (another plotly version)."""
    from plotly.offline import get_plotlyjs

    path = reports / PLOTLY_JS
    text = get_plotlyjs()
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return path
    return write_text_atomic(path, text)


def plotly_script(page_path: Path, reports: Path) -> str:
    """The relative address of ``reports/plotly.min.js`` from a page at ``page_path``."""
    return link(reports / PLOTLY_JS, page_path.parent)


def missing_plotly_note(script: str) -> str:
    """A script that, when plotly.js did not load from ``script``, says so on the page (the
    page was copied without its reports folder) and what to do."""
    note = html.escape(
        f"The figures of this page need {script} (plotly.js), which did not load: keep "
        "the reports folder together, or make pages that carry plotly.js with "
        "`posekit report --plotly-js inline`.")
    shown = _script_json(f"<p class=\"warn\">{note}</p>")
    return ("<script>if (!window.Plotly) document.currentScript.insertAdjacentHTML("
            f"'afterend', {shown});</script>")


class Figures:
    """Figures of one page: plotly.js goes with the first one only, inline or (``script``,
    an address relative to the page) as a ``<script src>``."""

    def __init__(self, script: str | None = None) -> None:
        self.count = 0
        self.script = script

    def __call__(self, fig: Any, name: str) -> str:
        self.count += 1
        first = self.count == 1
        include: bool | str = (self.script or True) if first else False
        # plain-dict figures (the 3D viewer) are built valid; plotly's own are validated
        out: str = pio.to_html(fig, full_html=False, include_plotlyjs=include,
                               div_id=name, auto_play=False, validate=False,
                               config={"displaylogo": False, "responsive": True})
        if first and self.script:
            out += missing_plotly_note(self.script)
        return out


def percent(share: Any, digits: int = 1) -> str | None:
    """A share (0..1) as a percentage with ``digits`` decimals; None stays None."""
    return None if share is None else f"{100 * float(share):.{digits}f} %"


def sections(parts: Sequence[tuple[str, str]]) -> str:
    """The page body: each (title, html) under an ``<h2>`` whose id is the title in lower
    case with dashes (``#triangulation-quality``), so that other pages can link to it."""
    return "\n".join(f"<h2 id=\"{t.lower().replace(' ', '-')}\">{html.escape(t)}</h2>\n{s}"
                     for t, s in parts)


def failed_rows(failed: Mapping[str, str], columns: int) -> str:
    """Index rows for pages that could not be made (key → why), spanning a table of
    ``columns`` + 1 columns."""
    return "".join(f"<tr><td>{html.escape(key)}</td><td colspan=\"{columns}\">failed: "
                   f"{html.escape(msg)}</td></tr>" for key, msg in failed.items())
