"""Presentation: the HTML report, CSV/Markdown tables, plots and the published numbers shown beside measured ones."""
