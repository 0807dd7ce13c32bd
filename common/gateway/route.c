/* route.c - see route.h. */
#include "gateway/route.h"

#include <string.h>

static const struct {
    const char *name;
    unsigned bit;
} methods[] = {
    {"GET", GW_GET},       {"HEAD", GW_HEAD},       {"POST", GW_POST},   {"PUT", GW_PUT},
    {"DELETE", GW_DELETE}, {"OPTIONS", GW_OPTIONS}, {"PATCH", GW_PATCH},
};

unsigned gw_method_bit(const char *method)
{
    if (!method)
        return 0;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(method, methods[i].name))
            return methods[i].bit;
    return 0;
}

void gw_methods_text(unsigned set, char *out, size_t outsz)
{
    size_t o = 0;
    if (outsz)
        out[0] = '\0';
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (!(set & methods[i].bit))
            continue;
        size_t n = strlen(methods[i].name);
        if (o + n + 3 > outsz)
            break;
        if (o) {
            out[o++] = ',';
            out[o++] = ' ';
        }
        memcpy(out + o, methods[i].name, n);
        o += n;
        out[o] = '\0';
    }
}

static int param_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '@';
}

/* Matches one pattern; 1 with the parameters in m, else 0. */
static int match_one(const char *pat, const char *path, gw_match *m)
{
    m->nparams = 0;
    const char *p = pat, *s = path;
    for (;;) {
        if (*p == '\0' && *s == '\0')
            return 1;
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pe = strchr(p, '/');
        if (!pe)
            pe = p + strlen(p);
        const char *se = strchr(s, '/');
        if (!se)
            se = s + strlen(s);
        size_t pl = (size_t)(pe - p), sl = (size_t)(se - s);
        if (pl >= 2 && p[0] == '{' && pe[-1] == '}') {
            /* {name*} as the last segment takes the rest of the path, segment by segment */
            int rest = pl >= 3 && pe[-2] == '*' && *pe == '\0';
            if (rest) {
                se = s + strlen(s);
                sl = (size_t)(se - s);
            }
            if (sl == 0 || sl >= GW_PARAM_MAX || m->nparams >= GW_MAX_PARAMS)
                return 0;
            for (const char *g = s; g < se;) {
                const char *ge = memchr(g, '/', (size_t)(se - g));
                if (!ge)
                    ge = se;
                size_t gl = (size_t)(ge - g);
                if (gl == 0 || (gl == 1 && g[0] == '.') || (gl == 2 && g[0] == '.' && g[1] == '.'))
                    return 0;
                for (size_t i = 0; i < gl; i++)
                    if (!param_char((unsigned char)g[i]))
                        return 0;
                g = ge < se ? ge + 1 : ge;
                if (ge < se && g == se)
                    return 0; /* a trailing slash */
            }
            size_t nl = pl - 2 - (size_t)rest;
            if (nl >= sizeof m->name[0])
                nl = sizeof m->name[0] - 1;
            memcpy(m->name[m->nparams], p + 1, nl);
            m->name[m->nparams][nl] = '\0';
            memcpy(m->value[m->nparams], s, sl);
            m->value[m->nparams][sl] = '\0';
            m->nparams++;
        } else if (pl != sl || memcmp(p, s, pl) != 0) {
            return 0;
        }
        p = pe;
        s = se;
    }
}

int gw_route_match(const gw_route *table, size_t n, size_t stride, const char *method, const char *path,
                   gw_match *m)
{
    memset(m, 0, sizeof *m);
    if (!path || path[0] != '/' || strlen(path) >= GW_PATH_MAX)
        return GW_ROUTE_NOTFOUND;
    unsigned bit = gw_method_bit(method);
    if (bit == GW_HEAD)
        bit |= GW_GET;
    unsigned allowed = 0;
    gw_match tmp;
    for (size_t i = 0; i < n; i++) {
        const gw_route *t = (const gw_route *)(const void *)((const char *)table + i * stride);
        if (!match_one(t->pattern, path, &tmp))
            continue;
        if (t->methods & bit) {
            *m = tmp;
            return (int)i;
        }
        allowed |= t->methods;
    }
    if (allowed) {
        m->allowed = allowed | ((allowed & GW_GET) ? GW_HEAD : 0);
        return GW_ROUTE_METHOD;
    }
    return GW_ROUTE_NOTFOUND;
}

const char *gw_param(const gw_match *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->name[i], name))
            return m->value[i];
    return NULL;
}
