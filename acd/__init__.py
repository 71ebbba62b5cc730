"""acd: a contact-center server for Asterisk over ARI."""

__version__ = "0.1.0"
