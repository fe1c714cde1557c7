-- The value index (preciso_sql::VALUE_INDEX) now carries every column the value score reads,
-- so a ranked page is scored from the index alone (issue #20, point 6). Dropped here, it is
-- built again with the new columns by the deferred-index check of the open that runs this.
DROP INDEX IF EXISTS offers_value;
