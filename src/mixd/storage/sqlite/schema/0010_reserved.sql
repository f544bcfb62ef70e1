-- Reserved: migration 10 belongs to another branch. This placeholder only keeps
-- the numbering contiguous until that branch lands; delete it then.
SELECT 1;
