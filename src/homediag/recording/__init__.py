"""``homediag watch``: bounded, rate-limited samplers over ``net/`` and the loop that runs them.

Beside :mod:`homediag.session` (never importing it); what the samples become
lives in :mod:`homediag.timeline`. See docs/watch-design.md.
"""
