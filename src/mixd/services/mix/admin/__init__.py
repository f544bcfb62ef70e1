"""XEP-0406 MIX-ADMIN 0.3.1: roles and rights, the configuration node, the
allowed and banned nodes, end of life, and ad-hoc administration commands."""
