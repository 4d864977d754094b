"""Renderers: terminal (rich), self-contained HTML (Jinja2, autoescaped), Markdown."""
