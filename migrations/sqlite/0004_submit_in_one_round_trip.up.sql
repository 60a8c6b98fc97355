-- PostgreSQL gets a function that stores a submission in one round trip. SQLite runs in
-- the server's process, where a statement costs no round trip: nothing to do, and the
-- version number stays the same on both databases.
SELECT 1;
