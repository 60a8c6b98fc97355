DROP TABLE clips;
DROP TABLE submissions;
DROP TABLE contributors;
