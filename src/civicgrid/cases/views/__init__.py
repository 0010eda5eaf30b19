"""The staff desk: inbox, list and Excel export, the case page and its steps (htmx, works without JS)."""

from civicgrid.cases.views.pages import case_view, export_view, inbox_view, list_view
from civicgrid.cases.views.steps import step_view

__all__ = ["case_view", "export_view", "inbox_view", "list_view", "step_view"]
