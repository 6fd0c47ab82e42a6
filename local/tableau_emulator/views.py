"""The demo view: a dataset filtered as ``USERATTRIBUTEINCLUDES('<attr>', [Tenant])`` would filter it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from .state import DemoRow, EmbedSession


def user_attribute_includes(attributes: Mapping[str, Any], name: str, value: str) -> bool:
    """``USERATTRIBUTEINCLUDES(name, value)``: the attribute is the string ``value`` or an array holding it.

    Comparison is exact (case-sensitive). A missing, empty or non-string attribute includes nothing:
    the calculation fails closed.
    """
    attr = attributes.get(name)
    if isinstance(attr, str):
        return attr == value
    if isinstance(attr, list):
        return any(isinstance(v, str) and v == value for v in attr)
    return False


def visible_rows(rows: Sequence[DemoRow], attributes: Mapping[str, Any], attribute_name: str) -> list[DemoRow]:
    return [r for r in rows if user_attribute_includes(attributes, attribute_name, r.tenant)]


def render_view(
    *,
    workbook: str,
    view: str,
    session: EmbedSession,
    rows: Sequence[DemoRow],
    attribute_name: str,
) -> str:
    shown = visible_rows(rows, session.attributes, attribute_name)
    attr = session.attributes.get(attribute_name)
    if attr is None or attr == "" or attr == []:
        note = (
            f"No user attribute '{attribute_name}' in this session: "
            "USERATTRIBUTEINCLUDES returns false for every row, so no rows are shown (fail closed)."
        )
    else:
        note = f"Rows where USERATTRIBUTEINCLUDES('{attribute_name}', [Tenant]) is true."
    body_rows = "\n".join(
        f'      <tr data-tenant="{escape(r.tenant)}" data-order-id="{escape(r.order_id)}">'
        f"<td>{escape(r.order_id)}</td><td>{escape(r.tenant)}</td><td>{escape(r.product)}</td>"
        f'<td class="num">{r.amount:,.2f}</td></tr>'
        for r in shown
    )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{escape(workbook)} / {escape(view)} - Tableau emulator</title>
  <style>
    body {{ font-family: sans-serif; margin: 1rem; }}
    table {{ border-collapse: collapse; }}
    td, th {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; }}
    .num {{ text-align: right; }}
  </style>
</head>
<body>
  <h1 id="view-title">{escape(workbook)} / {escape(view)}</h1>
  <p>Signed in as <span id="user">{escape(session.username)}</span>
     on site <span id="site">{escape(session.site_content_url)}</span></p>
  <p>Attribute <code id="attribute-name">{escape(attribute_name)}</code> =
     <code id="attribute-value">{escape(json.dumps(attr))}</code></p>
  <p id="filter-note">{escape(note)}</p>
  <p>Rows: <span id="row-count">{len(shown)}</span></p>
  <table id="rows">
    <thead><tr><th>Order ID</th><th>Tenant</th><th>Product</th><th>Amount</th></tr></thead>
    <tbody>
{body_rows}
    </tbody>
  </table>
</body>
</html>
"""


def render_message(title: str, message: str, *, code: int | None = None) -> str:
    code_html = f'<p>Error code <span id="error-code">{code}</span></p>' if code is not None else ""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{escape(title)} - Tableau emulator</title></head>
<body>
  <h1 id="message-title">{escape(title)}</h1>
  <p id="message">{escape(message)}</p>
  {code_html}
</body>
</html>
"""
