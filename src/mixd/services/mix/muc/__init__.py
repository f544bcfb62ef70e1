"""XEP-0408 MIX-MUC 0.2.0, fully integrated mode: the XEP-0045 face of MIX channels."""
