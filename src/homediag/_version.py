"""The installed version of homediag."""

__version__ = "0.1.0"
