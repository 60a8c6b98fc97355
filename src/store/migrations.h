/* The embedded migration table (generated from migrations/<backend>/NNNN_name.{up,down}.sql). */
#ifndef TIMEWARP_MIGRATIONS_H
#define TIMEWARP_MIGRATIONS_H
struct migration {
    const char *backend; /* "sqlite" or "postgres" */
    int version;
    const char *name;
    const char *up, *down;
};
extern const struct migration migrations_table[]; /* ends with a NULL backend */
#endif
