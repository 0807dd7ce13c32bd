/* test_logline.c - timestamped log lines (base/logline.h): the stamp is UTC with
 * milliseconds, and a line is "STAMP WHO message" ending in one newline. */
#include <stdio.h>
#include <string.h>

#include "base/logline.h"
#include "test.h"

TEST(stamp_is_utc_with_milliseconds)
{
    char ts[LOGLINE_STAMP_MAX];
    logline_stamp(0.0, ts, sizeof ts);
    CHECK(strcmp(ts, "1970-01-01T00:00:00.000Z") == 0);
    logline_stamp(1717243200.123456, ts, sizeof ts); /* 2024-06-01 12:00:00 UTC */
    CHECKF(strcmp(ts, "2024-06-01T12:00:00.123Z") == 0, "%s", ts);
    logline_stamp(1717243200.9996, ts, sizeof ts); /* milliseconds are cut, not rounded up */
    CHECKF(strcmp(ts, "2024-06-01T12:00:00.999Z") == 0, "%s", ts);
}

TEST(line_format)
{
    FILE *f = tmpfile();
    CHECK(f);
    logline_printf(f, "mlhep-test[w1]", "job %s: %d rows", "abc", 42);
    rewind(f);
    char line[256];
    CHECK(fgets(line, sizeof line, f));
    CHECKF(strlen(line) == 24 + 1 + 14 + 1 + 16 + 1, "%s", line);
    CHECK(line[4] == '-' && line[10] == 'T' && line[19] == '.' && line[23] == 'Z');
    CHECKF(strcmp(line + 24, " mlhep-test[w1] job abc: 42 rows\n") == 0, "%s", line + 24);
    CHECK(!fgets(line, sizeof line, f));
    fclose(f);
}

/* Control characters never come out raw: a newline in a message cannot forge a second
 * line, an escape sequence cannot reach a terminal. */
TEST(control_characters_escaped)
{
    char out[64];
    size_t n = logline_escape("a\nb\x1b[31mc\x7f\t", out, sizeof out);
    CHECKF(strcmp(out, "a\\x0ab\\x1b[31mc\\x7f\\x09") == 0, "%s", out);
    CHECK(n == strlen(out));
    char small[6];
    logline_escape("ab\ncd", small, sizeof small); /* an escape is never cut in half */
    CHECKF(strcmp(small, "ab") == 0, "%s", small);
    logline_escape(NULL, small, sizeof small);
    CHECK(small[0] == '\0');
    FILE *f = tmpfile();
    CHECK(f);
    logline_printf(f, "w", "job %s", "x\n2024-01-01T00:00:00.000Z forged");
    rewind(f);
    char line[256];
    CHECK(fgets(line, sizeof line, f));
    CHECKF(strstr(line, "job x\\x0a2024") != NULL, "%s", line);
    CHECK(!fgets(line, sizeof line, f)); /* one line */
    fclose(f);
}

int main(void)
{
    RUN(stamp_is_utc_with_milliseconds);
    RUN(line_format);
    RUN(control_characters_escaped);
    return test_summary();
}
