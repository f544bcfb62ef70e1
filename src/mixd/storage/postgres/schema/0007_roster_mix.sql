-- MIX-PAM (XEP-0405): a roster item that is a joined MIX channel carries the
-- user's stable participant id in that channel (NULL for every other item).
ALTER TABLE roster_items ADD COLUMN mix_participant_id TEXT;
