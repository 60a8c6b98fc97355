DROP INDEX clips_chronological;
