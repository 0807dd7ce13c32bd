/* hostpolicy.h - which remote hosts a byte source may read from (config data_hosts).
 *
 * A workflow names its inputs, so without a limit a job could make a worker fetch any
 * address the worker can reach: the service's own Redis, a cloud metadata endpoint,
 * hosts inside the cluster. The service reads remote inputs only from hosts on an
 * allow-list, and never from loopback, link-local or private addresses unless the list
 * names them explicitly.
 *
 * The list (data_hosts; comma- and/or space-separated entries, case-insensitive):
 *   *                 any host name (its addresses must be public)
 *   .example.org      any host whose name ends with ".example.org" (addresses public);
 *   *.example.org     the same
 *   host.example.org  exactly that host; it may resolve to a private or loopback
 *                     address (the operator named it)
 *   192.0.2.7  ::1    exactly that address (written in the URL as an IP literal, or
 *   [::1]             what a listed name resolves to)
 *   10.1.0.0/16       any address in that network
 * Any entry may end in :PORT (IPv6 literals then in brackets: [fd00::1]:1094): only
 * that port then. An empty list refuses every remote input. "localhost" and names under
 * ".localhost" count as loopback: only an entry naming them exactly lets them through.
 *
 * Special addresses (refused unless an address entry holds them or an exact host
 * entry resolves to them): 0.0.0.0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12,
 * 192.0.0/24, 192.168/16, 198.18/15, 224/4 and above; ::, ::1, fc00::/7, fe80::/10,
 * ff00::/8, and IPv4-mapped/compatible forms of the IPv4 ones.
 *
 * Two checks, one rule:
 *   - by name (hostpolicy_check_url), where a workflow is validated: the gateway,
 *     mlhep-submit and the worker refuse a URL whose host the list does not allow (an
 *     IP literal is checked as an address there too);
 *   - by address, when a worker connects (hostpolicy_resolve): the name is resolved
 *     once, every address is checked, and the back end connects only to what was
 *     checked (https/http: libcurl is handed those addresses, CURLOPT_RESOLVE, and
 *     every socket it opens - redirects included - is checked again,
 *     CURLOPT_OPENSOCKETFUNCTION; root://: XrdCl resolves by itself, so the check runs
 *     just before the open, and redirects by XRootD redirectors to data servers are
 *     not checked: list only redirectors you trust).
 *
 * Ownership: hostpolicy_parse allocates, hostpolicy_free frees; a parsed policy is
 * read-only and may be shared by threads. */
#ifndef MLHEP_HOSTPOLICY_H
#define MLHEP_HOSTPOLICY_H

/* the phrase of every refusal (workflow_path_refused recognises it in a message) */
#define HOSTPOLICY_REFUSED "is not allowed by data_hosts"

#include <stddef.h>
#include <sys/socket.h>

#include "base/err.h"

typedef struct hostpolicy hostpolicy;

#define HOSTPOLICY_MAX_ADDRS 16 /* addresses of one host kept by hostpolicy_resolve */

/* The addresses a host resolved to, every one allowed (hostpolicy_resolve). */
typedef struct hostpolicy_addrs {
    size_t n;
    struct sockaddr_storage a[HOSTPOLICY_MAX_ADDRS];
    char text[HOSTPOLICY_MAX_ADDRS][48]; /* numeric forms (IPv6 without brackets) */
} hostpolicy_addrs;

/* Parses a data_hosts list. MLHEP_EINVAL naming the bad entry. */
int hostpolicy_parse(const char *list, hostpolicy **out, mlhep_err *e);
void hostpolicy_free(hostpolicy *p);

/* Splits scheme://[user@]host[:port]/... into host (brackets of an IPv6 literal
 * removed) and port (default_port when absent). MLHEP_EINVAL when there is no host. */
int hostpolicy_url_host(const char *url, int default_port, char *host, size_t hostsz, int *port, mlhep_err *e);

/* By name: MLHEP_EAUTH ("host H (port P) is not in data_hosts ...") unless the list
 * allows the URL's host and port. The default port comes from the scheme (root 1094,
 * http 80, https 443). */
int hostpolicy_check_url(const hostpolicy *p, const char *url, mlhep_err *e);

/* By address: checks host:port by name, resolves it once and checks every address;
 * MLHEP_EAUTH naming the address that is not allowed, MLHEP_ENET when the name does
 * not resolve. *out: the checked addresses, to connect to. */
int hostpolicy_resolve(const hostpolicy *p, const char *host, int port, hostpolicy_addrs *out, mlhep_err *e);

/* For a socket about to be opened to sa (a connection of a source whose host resolved
 * to pinned): 1 if allowed (one of pinned, an address entry, or a public address when
 * the list has a name entry for any host), else 0. */
int hostpolicy_socket_ok(const hostpolicy *p, const hostpolicy_addrs *pinned, const struct sockaddr *sa);

/* 1 if the address is special (loopback, private, link-local, ...: see above). */
int hostpolicy_addr_special(const struct sockaddr *sa);

#endif
