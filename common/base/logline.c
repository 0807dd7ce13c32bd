/* logline.c - see logline.h. */
#include "base/logline.h"

#include <math.h>
#include <time.h>

void logline_stamp(double t, char *buf, size_t n)
{
    double whole = floor(t);
    time_t s = (time_t)whole;
    int ms = (int)((t - whole) * 1000);
    struct tm tm;
    char day[24];
    if (!gmtime_r(&s, &tm) || !strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm))
        snprintf(day, sizeof day, "%lld", (long long)s);
    snprintf(buf, n, "%s.%03dZ", day, ms > 999 ? 999 : ms);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

size_t logline_escape(const char *text, char *out, size_t outsz)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            if (o + 4 >= outsz)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        } else {
            if (o + 1 >= outsz)
                break;
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
    return o;
}

void logline_vprintf(FILE *f, const char *who, const char *fmt, va_list ap)
{
    char ts[LOGLINE_STAMP_MAX], msg[2048], clean[2048];
    logline_stamp(now_s(), ts, sizeof ts);
    vsnprintf(msg, sizeof msg, fmt, ap);
    logline_escape(msg, clean, sizeof clean);
    fprintf(f, "%s %s %s\n", ts, who, clean);
    fflush(f);
}

void logline_printf(FILE *f, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logline_vprintf(f, who, fmt, ap);
    va_end(ap);
}
