"""XEP-0405 MIX-PAM: the participant's own server side of MIX."""
