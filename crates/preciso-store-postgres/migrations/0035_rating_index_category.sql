-- The rating index carries the category key as well (issue #20, point 6): a rating-sorted
-- listing of a category walks the currency's rating order and filters its entries from the
-- index alone, instead of sorting every offer of the category. Dropped here, it is built
-- again with the new column by the deferred-index check of the open that runs this.
DROP INDEX IF EXISTS offers_rating;
