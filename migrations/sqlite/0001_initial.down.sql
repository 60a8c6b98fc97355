-- clips and submissions reference each other, and SQLite checks foreign keys when a table
-- is dropped (an implicit DELETE): unlink them first, or the first DROP fails with data.
UPDATE submissions SET clip_id = NULL;
DROP TABLE clips;
DROP TABLE submissions;
DROP TABLE contributors;
