-- timewarp: derived clip_changes clip_changes_horizon
DROP TRIGGER clip_changes_after_delete;
DROP TRIGGER clip_changes_after_update;
DROP TRIGGER clip_changes_after_insert;
DROP TABLE clip_changes_horizon;
DROP TABLE clip_changes;
