"""Whole-installation export and import in XEP-0227 form (`mixd export`,
`mixd import`); see docs/scaling.md, "Moving from SQLite to PostgreSQL"."""
