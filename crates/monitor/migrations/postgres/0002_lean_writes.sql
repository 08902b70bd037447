-- scs-kaas monitor schema v2 (PostgreSQL): drop the index result2_latest, which no query reads
-- (the result cache is filled through result2_checked) and which every upload had to update.
DROP INDEX IF EXISTS result2_latest;
