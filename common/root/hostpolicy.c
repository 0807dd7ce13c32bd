/* hostpolicy.c - see hostpolicy.h (the list's syntax and the rules are there). */
#include "root/hostpolicy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/numarg.h"

enum { E_ANY, E_SUFFIX, E_EXACT, E_NET };

typedef struct entry {
    int kind;
    char name[256];        /* E_SUFFIX: ".example.org"; E_EXACT: the host, lower case */
    unsigned char net[16]; /* E_NET: the address (IPv4 as ::ffff:a.b.c.d) */
    int bits;              /* E_NET: prefix length in those 128 bits */
    int port;              /* 0: any */
} entry;

struct hostpolicy {
    entry *v;
    size_t n;
    int has_names; /* an E_ANY or E_SUFFIX entry: public redirect targets are fine */
};

/* ---- addresses ------------------------------------------------------------------------ */

/* The 16-byte form of a socket address (IPv4 mapped); 0, or -1 for other families. */
static int addr16(const struct sockaddr *sa, unsigned char out[16], int *port)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &s4->sin_addr, 4);
        if (port)
            *port = ntohs(s4->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        memcpy(out, &s6->sin6_addr, 16);
        if (port)
            *port = ntohs(s6->sin6_port);
        return 0;
    }
    return -1;
}

/* An IP literal (IPv4 or IPv6, no brackets) into its 16-byte form; -1 if not one. */
static int literal16(const char *s, unsigned char out[16])
{
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

static int special4(const unsigned char b[4])
{
    return b[0] == 0 || b[0] == 10 || b[0] == 127 || (b[0] == 100 && (b[1] & 0xc0) == 64) ||
           (b[0] == 169 && b[1] == 254) || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
           (b[0] == 192 && b[1] == 0 && b[2] == 0) || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 198 && (b[1] & 0xfe) == 18) || b[0] >= 224;
}

static int special16(const unsigned char a[16])
{
    static const unsigned char zero[16], mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff},
                                          nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12))
        return special4(a + 12);
    if (!memcmp(a, zero, 12)) /* ::, ::1 and the IPv4-compatible ::a.b.c.d */
        return 1;
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: the IPv4 address in bytes 2-5 */
        return special4(a + 2);
    return (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || a[0] == 0xff;
}

int hostpolicy_addr_special(const struct sockaddr *sa)
{
    unsigned char a[16];
    return addr16(sa, a, NULL) ? 1 : special16(a);
}

static int in_net(const entry *en, const unsigned char a[16])
{
    int full = en->bits / 8, rest = en->bits % 8;
    if (memcmp(en->net, a, (size_t)full))
        return 0;
    if (!rest)
        return 1;
    unsigned char m = (unsigned char)(0xff << (8 - rest));
    return (en->net[full] & m) == (a[full] & m);
}

/* An E_NET entry holding address a on port. */
static int addr_listed(const hostpolicy *p, const unsigned char a[16], int port)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].kind == E_NET && (!p->v[i].port || p->v[i].port == port) && in_net(&p->v[i], a))
            return 1;
    return 0;
}

static void addr_text(const unsigned char a[16], char *out, size_t n)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(a, mapped, 12))
        inet_ntop(AF_INET, a + 12, out, (socklen_t)n);
    else
        inet_ntop(AF_INET6, a, out, (socklen_t)n);
}

/* ---- the list ------------------------------------------------------------------------- */

static int name_char_ok(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

static int parse_entry(const char *tok, entry *en, mlhep_err *e)
{
    memset(en, 0, sizeof *en);
    char buf[300], *host = buf, *port = NULL;
    if (strlen(tok) >= sizeof buf)
        return err_set(e, MLHEP_EINVAL, "data_hosts: entry '%.40s...' is too long", tok);
    strcpy(buf, tok);
    if (buf[0] == '[') { /* [v6] or [v6]:port */
        char *rb = strchr(buf, ']');
        if (!rb || (rb[1] && rb[1] != ':'))
            return err_set(e, MLHEP_EINVAL, "data_hosts: '%s': expected [IPv6] or [IPv6]:PORT", tok);
        *rb = '\0';
        host = buf + 1;
        if (rb[1] == ':')
            port = rb + 2;
    } else if (strchr(buf, ':') && strchr(buf, ':') == strrchr(buf, ':')) { /* host:port */
        port = strrchr(buf, ':');
        *port++ = '\0';
    }
    if (port && numarg_int("data_hosts: port", port, 1, 65535, &en->port, e))
        return err_prefix(e, "'%s'", tok);
    char *slash = strchr(host, '/');
    if (slash) { /* address/prefix */
        *slash = '\0';
        int bits;
        if (literal16(host, en->net) || numarg_int("data_hosts: prefix", slash + 1, 0, 128, &bits, e))
            return err_set(e, MLHEP_EINVAL, "data_hosts: '%s': expected ADDRESS/PREFIX", tok);
        int v4 = strchr(host, ':') == NULL;
        if (v4 && bits > 32)
            return err_set(e, MLHEP_EINVAL, "data_hosts: '%s': an IPv4 prefix is at most 32", tok);
        en->kind = E_NET;
        en->bits = v4 ? 96 + bits : bits;
        return 0;
    }
    if (literal16(host, en->net) == 0) {
        en->kind = E_NET;
        en->bits = 128;
        return 0;
    }
    if (!strcmp(host, "*")) {
        en->kind = E_ANY;
        return 0;
    }
    if (!strncmp(host, "*.", 2))
        host++;
    en->kind = host[0] == '.' ? E_SUFFIX : E_EXACT;
    if (!host[en->kind == E_SUFFIX ? 1 : 0] || strlen(host) >= sizeof en->name)
        return err_set(e, MLHEP_EINVAL, "data_hosts: '%s': no host name", tok);
    for (size_t i = 0; host[i]; i++) {
        if (!name_char_ok(host[i]))
            return err_set(e, MLHEP_EINVAL, "data_hosts: '%s': not a host name, address or pattern", tok);
        en->name[i] = (char)tolower((unsigned char)host[i]);
    }
    size_t l = strlen(en->name);
    if (l > 1 && en->name[l - 1] == '.')
        en->name[l - 1] = '\0';
    return 0;
}

int hostpolicy_parse(const char *list, hostpolicy **out, mlhep_err *e)
{
    *out = NULL;
    hostpolicy *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    size_t cap = 0;
    for (const char *s = list ? list : ""; *s;) {
        size_t k = strcspn(s, ", \t");
        if (k) {
            char tok[512];
            if (k >= sizeof tok) {
                hostpolicy_free(p);
                return err_set(e, MLHEP_EINVAL, "data_hosts: an entry is too long");
            }
            memcpy(tok, s, k);
            tok[k] = '\0';
            if (p->n == cap) {
                cap = cap ? 2 * cap : 8;
                entry *nv = realloc(p->v, cap * sizeof *nv);
                if (!nv) {
                    hostpolicy_free(p);
                    return err_set(e, MLHEP_ENOMEM, "out of memory");
                }
                p->v = nv;
            }
            int rc = parse_entry(tok, &p->v[p->n], e);
            if (rc) {
                hostpolicy_free(p);
                return rc;
            }
            if (p->v[p->n].kind == E_ANY || p->v[p->n].kind == E_SUFFIX)
                p->has_names = 1;
            p->n++;
        }
        s += k;
        s += strspn(s, ", \t");
    }
    *out = p;
    return 0;
}

void hostpolicy_free(hostpolicy *p)
{
    if (!p)
        return;
    free(p->v);
    free(p);
}

/* ---- by name -------------------------------------------------------------------------- */

int hostpolicy_url_host(const char *url, int default_port, char *host, size_t hostsz, int *port, mlhep_err *e)
{
    const char *a = strstr(url, "://");
    if (!a)
        return err_set(e, MLHEP_EINVAL, "'%s': not a URL", url);
    a += 3;
    size_t alen = strcspn(a, "/?#");
    const char *at = memchr(a, '@', alen);
    if (at) {
        alen -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    char auth[300];
    if (alen == 0 || alen >= sizeof auth)
        return err_set(e, MLHEP_EINVAL, "'%.80s': no host (or a host name too long)", url);
    memcpy(auth, a, alen);
    auth[alen] = '\0';
    char *h = auth, *p = NULL;
    if (auth[0] == '[') {
        char *rb = strchr(auth, ']');
        if (!rb || (rb[1] && rb[1] != ':'))
            return err_set(e, MLHEP_EINVAL, "'%.80s': malformed [IPv6] host", url);
        *rb = '\0';
        h = auth + 1;
        if (rb[1])
            p = rb + 2;
    } else if ((p = strrchr(auth, ':'))) {
        *p++ = '\0';
    }
    *port = default_port;
    if (p && *p && numarg_int("port", p, 1, 65535, port, e))
        return err_prefix(e, "'%.80s'", url);
    if (!*h || strlen(h) >= hostsz)
        return err_set(e, MLHEP_EINVAL, "'%.80s': no host", url);
    snprintf(host, hostsz, "%s", h);
    return 0;
}

static int localhostish(const char *h)
{
    size_t n = strlen(h);
    return !strcasecmp(h, "localhost") || (n > 10 && !strcasecmp(h + n - 10, ".localhost"));
}

/* The name check. *exact: an E_EXACT entry named the host (it may resolve anywhere). */
static int check_name(const hostpolicy *p, const char *host_in, int port, int *exact, mlhep_err *e)
{
    char host[256];
    snprintf(host, sizeof host, "%s", host_in);
    size_t hl = strlen(host);
    if (hl > 1 && host[hl - 1] == '.')
        host[--hl] = '\0';
    *exact = 0;
    unsigned char a[16];
    if (literal16(host, a) == 0) {
        if (addr_listed(p, a, port))
            return 0;
        for (size_t i = 0; i < p->n && !special16(a); i++)
            if (p->v[i].kind == E_ANY && (!p->v[i].port || p->v[i].port == port))
                return 0;
        return err_set(e, MLHEP_EAUTH, "host %s (port %d) " HOSTPOLICY_REFUSED "%s", host, port,
                       special16(a) ? " (a loopback, private or link-local address needs an entry naming it)" : "");
    }
    int lh = localhostish(host);
    for (size_t i = 0; i < p->n; i++) {
        const entry *en = &p->v[i];
        if (en->port && en->port != port)
            continue;
        if (en->kind == E_EXACT && !strcasecmp(en->name, host)) {
            *exact = 1;
            return 0;
        }
        if (lh)
            continue;
        size_t sl = strlen(en->name);
        if (en->kind == E_ANY || (en->kind == E_SUFFIX && hl > sl && !strcasecmp(host + hl - sl, en->name)))
            return 0;
    }
    return err_set(e, MLHEP_EAUTH, "host %s (port %d) " HOSTPOLICY_REFUSED " (not listed among the hosts this "
                   "service reads remote inputs from)", host, port);
}

int hostpolicy_check_url(const hostpolicy *p, const char *url, mlhep_err *e)
{
    int defport = !strncmp(url, "https://", 8) ? 443 : !strncmp(url, "http://", 7) ? 80 : 1094;
    char host[256];
    int port, exact;
    int rc = hostpolicy_url_host(url, defport, host, sizeof host, &port, e);
    return rc ? rc : check_name(p, host, port, &exact, e);
}

/* ---- by address ----------------------------------------------------------------------- */

int hostpolicy_resolve(const hostpolicy *p, const char *host, int port, hostpolicy_addrs *out, mlhep_err *e)
{
    memset(out, 0, sizeof *out);
    int exact;
    int rc = check_name(p, host, port, &exact, e);
    if (rc)
        return rc;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g)
        return err_set(e, MLHEP_ENET, "cannot resolve host %s: %s", host, gai_strerror(g));
    unsigned char lit[16];
    int literal = literal16(host, lit) == 0;
    for (struct addrinfo *ai = res; ai && !rc; ai = ai->ai_next) {
        unsigned char a[16];
        if (addr16(ai->ai_addr, a, NULL))
            continue;
        char txt[48];
        addr_text(a, txt, sizeof txt);
        /* a listed address, any address of a host named exactly, a public address of a
         * host a name entry allows; an IP literal was checked by check_name */
        if (!(literal || exact || addr_listed(p, a, port) || !special16(a))) {
            rc = err_set(e, MLHEP_EAUTH, "host %s resolves to %s, a loopback, private or link-local address: "
                         "refused (data_hosts lets such addresses through only for hosts or addresses "
                         "it names exactly)", host, txt);
            break;
        }
        int dup = 0;
        for (size_t i = 0; i < out->n && !dup; i++)
            dup = !strcmp(out->text[i], txt);
        if (dup || out->n == HOSTPOLICY_MAX_ADDRS)
            continue;
        memcpy(&out->a[out->n], ai->ai_addr, ai->ai_addrlen);
        snprintf(out->text[out->n], sizeof out->text[0], "%s", txt);
        out->n++;
    }
    freeaddrinfo(res);
    if (!rc && out->n == 0)
        rc = err_set(e, MLHEP_ENET, "host %s has no IPv4 or IPv6 address", host);
    return rc;
}

int hostpolicy_socket_ok(const hostpolicy *p, const hostpolicy_addrs *pinned, const struct sockaddr *sa)
{
    unsigned char a[16];
    int port = 0;
    if (addr16(sa, a, &port))
        return 0;
    for (size_t i = 0; pinned && i < pinned->n; i++) {
        unsigned char b[16];
        if (addr16((const struct sockaddr *)&pinned->a[i], b, NULL) == 0 && !memcmp(a, b, 16))
            return 1;
    }
    return addr_listed(p, a, port) || (p->has_names && !special16(a));
}
