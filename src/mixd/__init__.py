"""mixd: an XMPP server whose group chat is MIX."""
