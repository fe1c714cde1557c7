-- PostgreSQL's 0031 widens its product index to this one's columns (0021): nothing to do here.
SELECT 1;
