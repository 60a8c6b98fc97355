ALTER TABLE clips DROP CONSTRAINT clips_added_via_submission_fk;
DROP TABLE submissions;
DROP TABLE clips;
DROP TABLE contributors;
