DROP TABLE moderation_actions;
DROP TABLE reports;
DROP INDEX clips_chronological;
CREATE INDEX clips_chronological ON clips (performance_date, created_at, id);
ALTER TABLE clips DROP COLUMN hidden_at;
