-- MIX-ANON (XEP-0404): each participant's user preferences ('JID
-- Visibility', 'Private Messages', ...), a JSON object of field -> value
-- holding only what the participant set.
ALTER TABLE mix_participants ADD COLUMN preferences TEXT NOT NULL DEFAULT '{}';
