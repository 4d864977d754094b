"""The diagnostic bundle: models (schema 1), writer, and the untrusted-input reader."""
