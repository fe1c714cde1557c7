-- The discount index carries the category key as well (issue #20, point 6): a discount-sorted
-- listing of a category walks the currency's discount order and tests the category on the
-- index, reading only the rows it keeps. Without it PostgreSQL, whose sample put a top-level
-- category's offers with a price bound at half their number, sorted all 92k of them for a
-- deep page (44–66 ms at 1M against 4–8 ms along the index); SQLite sorted them too (22 ms,
-- 3 ms along the index, which its plan then reads alone). Dropped here, it is built again
-- with the new column by the deferred-index check of the open that runs this.
DROP INDEX IF EXISTS offers_discount;
