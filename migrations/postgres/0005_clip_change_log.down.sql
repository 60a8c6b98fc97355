-- timewarp: derived clip_changes clip_changes_horizon
DROP TRIGGER clip_changes_after_truncate ON clips;
DROP TRIGGER clip_changes_after_delete ON clips;
DROP TRIGGER clip_changes_after_update ON clips;
DROP TRIGGER clip_changes_after_insert ON clips;
DROP FUNCTION timewarp_log_clip_changes();
DROP TABLE clip_changes_horizon;
DROP TABLE clip_changes;
