/* suggest.c - closest known name to a misspelt one; see suggest.h. */
#include "base/suggest.h"

#include <ctype.h>
#include <string.h>

#define SUGGEST_MAX_LEN 256

size_t suggest_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN)
        return (size_t)-1;
    /* three rolling rows of the dynamic programme (the transposition looks two back) */
    size_t r0[SUGGEST_MAX_LEN + 1], r1[SUGGEST_MAX_LEN + 1], r2[SUGGEST_MAX_LEN + 1];
    size_t *pp = r0, *p = r1, *c = r2;
    for (size_t j = 0; j <= m; j++)
        p[j] = j;
    for (size_t i = 1; i <= n; i++) {
        c[0] = i;
        int ai = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= m; j++) {
            int bj = tolower((unsigned char)b[j - 1]);
            size_t best = p[j - 1] + (ai != bj);
            if (p[j] + 1 < best)
                best = p[j] + 1;
            if (c[j - 1] + 1 < best)
                best = c[j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            c[j] = best;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[m];
}

static int prefix_ci(const char *pre, const char *s)
{
    for (; *pre; pre++, s++)
        if (tolower((unsigned char)*pre) != tolower((unsigned char)*s))
            return 0;
    return 1;
}

const char *suggest_closest(const char *word, const char *const *cands, size_t n)
{
    if (!word || !*word)
        return NULL;
    size_t wl = strlen(word);
    size_t limit = (wl + 2) / 3;
    if (limit > SUGGEST_MAX_DIST)
        limit = SUGGEST_MAX_DIST;
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        const char *c = cands[i];
        if (!c || !*c)
            continue;
        size_t d = suggest_distance(word, c);
        if (d == (size_t)-1 || !strcmp(word, c)) /* the word itself; a name differing only in case is the best */
            continue;
        size_t cl = strlen(c);
        size_t common = wl < cl ? wl : cl;
        int pre = common >= 4 && (wl < cl ? prefix_ci(word, c) : prefix_ci(c, word));
        if ((d <= limit || pre) && d < bestd) {
            best = c;
            bestd = d;
        }
    }
    return best;
}
