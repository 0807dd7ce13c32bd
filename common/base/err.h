/* err.h - error codes and user-facing error messages for every mlhep module.
 *
 * Convention: a function that can fail returns an int, 0 on success or a negative
 * MLHEP_E* code, and fills a caller-provided mlhep_err with a one-line message a user
 * can act on ("file x.root: branch 'Jet_pt' not found in tree 'Events'"). Lower
 * layers write what they know; callers add context in front with err_prefix().
 * Nothing here allocates; an mlhep_err lives wherever the caller puts it. */
#ifndef MLHEP_ERR_H
#define MLHEP_ERR_H

#include <stdarg.h>

enum {
    MLHEP_OK = 0,
    MLHEP_EIO = -1,          /* open/read/write failed (OS error) */
    MLHEP_EFORMAT = -2,      /* bytes are not what the format says: corrupt or truncated */
    MLHEP_ENOTFOUND = -3,    /* named thing (tree, branch, key, file) does not exist */
    MLHEP_EUNSUPPORTED = -4, /* valid input we deliberately do not handle */
    MLHEP_ENOMEM = -5,       /* allocation failed or a size limit was exceeded */
    MLHEP_EINVAL = -6,       /* bad argument or bad user input */
    MLHEP_ENET = -7,         /* network / remote server failure */
    MLHEP_EAUTH = -8,        /* authentication or authorisation refused */
    MLHEP_ECONFLICT = -9,    /* the request conflicts with the present state of what it
                                names (cancel of a finished job, a submission in progress) */
};

#define MLHEP_ERR_MAX 1024

typedef struct mlhep_err {
    int code;
    char msg[MLHEP_ERR_MAX];
} mlhep_err;

/* Sets the message (printf-style) and code; returns code so callers can write
 * `return err_set(e, MLHEP_EFORMAT, "...")`. e may be NULL. */
int err_set(mlhep_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Puts "prefix: " in front of the current message (keeps the code); returns e->code. */
int err_prefix(mlhep_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears e (code 0, empty message). */
void err_clear(mlhep_err *e);

/* What a user can do when writing a file failed with errno errnum: ": the disk is
 * full; free some space or write elsewhere" (ENOSPC), quota, not writable, a directory
 * in the way, missing directory; "" for other errors. */
const char *err_write_advice(int errnum);

/* Short name of a code ("format error", ...). */
const char *err_codename(int code);

#endif
