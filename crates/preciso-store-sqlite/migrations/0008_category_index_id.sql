-- PostgreSQL's 0008 adds the offer id to the end of the category index; SQLite's has ended
-- with it since 0006. The migration exists so both backends report the same schema version.
SELECT 1;
