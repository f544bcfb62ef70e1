"""XEP-0369 MIX: the channel service."""
