"""Support-side logic over finished bundles: comparing two of them, triaging many."""
