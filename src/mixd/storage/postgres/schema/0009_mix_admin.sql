-- MIX-ADMIN (XEP-0406): the configuration node's last change and the
-- channel's end of life (indexed for the expiry sweep), and the allowed and
-- banned lists. `config` now holds an object of field -> array of values.
ALTER TABLE mix_channels ADD COLUMN config_updated BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mix_channels ADD COLUMN end_of_life BIGINT;
CREATE INDEX mix_channels_end_of_life ON mix_channels (end_of_life)
    WHERE end_of_life IS NOT NULL;

CREATE TABLE mix_access (
    channel TEXT COLLATE "C" NOT NULL REFERENCES mix_channels (jid) ON DELETE CASCADE,
    list TEXT NOT NULL CHECK (list IN ('allowed', 'banned')),
    entry TEXT COLLATE "C" NOT NULL,  -- a bare JID, or a domain
    PRIMARY KEY (channel, list, entry)
);
