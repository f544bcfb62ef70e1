"""A raw asyncio load driver for XMPP servers with MIX.

Modules: `stanzas` (pre-built bytes, caps), `client` (one simulated client),
`accounts` (account creation and its cache), `server` (a mixd process run by
the bench), `procstat` (CPU and RSS from /proc), `stats` (percentiles),
`fanout` (the fan-out scenario), `report` (table and JSON), `cli`.
"""
