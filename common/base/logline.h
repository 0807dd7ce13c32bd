/* logline.h - timestamped log lines: "2024-06-01T12:00:00.123Z WHO message".
 *
 * The services write their logs on stderr this way (mlhep-worker, mlhep-infer: WHO is
 * "mlhep-worker[ID]"), and a job's log lines kept in Redis carry the same stamp
 * (service/jobstore), so lines from several programs sort and merge by time: UTC,
 * milliseconds, ISO 8601. One line is written with one call and flushed, so lines of
 * threads sharing a stream do not interleave. A message's control characters are
 * written escaped (logline_escape): text that came from a message or a record can
 * neither forge a line nor reach a terminal raw. */
#ifndef MLHEP_LOGLINE_H
#define MLHEP_LOGLINE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Room for a stamp and its NUL. */
#define LOGLINE_STAMP_MAX 32

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" for t seconds since the epoch into buf (n >=
 * LOGLINE_STAMP_MAX). */
void logline_stamp(double t, char *buf, size_t n);

/* Copies text into out (outsz > 0 bytes, always NUL-terminated, cut to fit) with every
 * control character (bytes 0x00-0x1f and 0x7f) written as \xNN. The one rule for
 * printing text a user or a message supplied (logs, status listings, text exports).
 * Returns the length written. */
size_t logline_escape(const char *text, char *out, size_t outsz);

/* Writes "STAMP WHO message\n" for now to f and flushes; a message longer than 2000
 * bytes is cut; its control characters are escaped (logline_escape). */
void logline_printf(FILE *f, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void logline_vprintf(FILE *f, const char *who, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#endif
