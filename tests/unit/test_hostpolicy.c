/* test_hostpolicy.c - the data_hosts allow-list (root/hostpolicy.h): the list's syntax,
 * the name check where workflows are validated (exact hosts, domain suffixes, `*`,
 * ports, IP literals, localhost), the special address ranges, the address check at
 * connect time (a name a wildcard allows must not resolve to loopback; a host listed
 * exactly may) and the socket check libcurl runs on every connection. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "root/hostpolicy.h"
#include "test.h"

static int url_ok(const char *list, const char *url)
{
    hostpolicy *p;
    mlhep_err e;
    if (hostpolicy_parse(list, &p, &e))
        return -1;
    int rc = hostpolicy_check_url(p, url, &e);
    hostpolicy_free(p);
    return rc == 0;
}

static int special(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &s6->sin6_addr);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &s4->sin_addr);
    }
    return hostpolicy_addr_special((struct sockaddr *)&ss);
}

TEST(syntax)
{
    hostpolicy *p;
    mlhep_err e;
    CHECK(hostpolicy_parse("*, .cern.ch *.fnal.gov eos.example.org:1094 10.0.0.0/8 [fd00::1]:8443 ::1 127.0.0.1:6",
                           &p, &e) == 0);
    hostpolicy_free(p);
    CHECK(hostpolicy_parse("", &p, &e) == 0); /* empty: nothing remote */
    hostpolicy_free(p);
    const char *bad[] = {"host:0", "host:99999", "host:x", "10.0.0.0/33", "1.2.3.4/x", "ho st/", "[::1", "[::1]x",
                         "a/b", "h@st", ".", "*."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(hostpolicy_parse(bad[i], &p, &e) == MLHEP_EINVAL, "accepted '%s'", bad[i]);
    CHECKF(strstr(e.msg, "data_hosts"), "%s", e.msg);
}

TEST(by_name)
{
    CHECK(url_ok("*", "root://eospublic.cern.ch//eos/x.root") == 1);
    CHECK(url_ok("*", "https://1.1.1.1/x.root") == 1);          /* a public literal */
    CHECK(url_ok("*", "http://127.0.0.1:6379/x.root") == 0);    /* the Redis */
    CHECK(url_ok("*", "http://[::1]:6379/x.root") == 0);
    CHECK(url_ok("*", "http://169.254.169.254/latest") == 0);   /* cloud metadata */
    CHECK(url_ok("*", "http://localhost:6379/x.root") == 0);
    CHECK(url_ok("*", "http://a.localhost/x.root") == 0);
    CHECK(url_ok("", "root://eospublic.cern.ch//x.root") == 0); /* empty list */
    CHECK(url_ok(".cern.ch", "root://eospublic.cern.ch//x") == 1);
    CHECK(url_ok(".cern.ch", "root://EOSPUBLIC.CERN.CH.//x") == 1); /* case, trailing dot */
    CHECK(url_ok(".cern.ch", "root://cern.ch//x") == 0);
    CHECK(url_ok(".cern.ch", "root://evilcern.ch//x") == 0);
    CHECK(url_ok("*.cern.ch", "root://a.b.cern.ch//x") == 1);
    CHECK(url_ok("eos.example.org:1094", "root://eos.example.org//x") == 1);  /* default 1094 */
    CHECK(url_ok("eos.example.org:1094", "root://eos.example.org:1095//x") == 0);
    CHECK(url_ok("web.example.org:443", "https://web.example.org/x") == 1);
    CHECK(url_ok("web.example.org:443", "http://web.example.org/x") == 0);   /* port 80 */
    CHECK(url_ok("127.0.0.1:8080", "http://127.0.0.1:8080/x") == 1);
    CHECK(url_ok("127.0.0.1:8080", "http://127.0.0.1:6379/x") == 0);
    CHECK(url_ok("127.0.0.0/8", "http://127.1.2.3:6379/x") == 1);
    CHECK(url_ok("localhost", "http://localhost:1/x") == 1);                 /* named exactly */
    CHECK(url_ok("[::1]:8080", "http://[::1]:8080/x") == 1);
    CHECK(url_ok("::1", "http://[::1]:99/x") == 1);
    CHECK(url_ok("*", "http://user@host.example/x") == 1); /* the host, not the user part */
    hostpolicy *p;
    mlhep_err e;
    CHECK(hostpolicy_parse(".cern.ch", &p, &e) == 0);
    CHECK(hostpolicy_check_url(p, "root://evil.example.org:1094//x", &e) == MLHEP_EAUTH);
    CHECKF(strstr(e.msg, "evil.example.org") && strstr(e.msg, "data_hosts"), "%s", e.msg);
    hostpolicy_free(p);
}

TEST(special_ranges)
{
    const char *sp[] = {"0.0.0.0", "10.1.2.3", "100.64.0.1", "127.0.0.1", "169.254.169.254", "172.16.0.1",
                        "172.31.255.255", "192.168.1.1", "198.18.0.1", "224.0.0.1", "255.255.255.255", "::",
                        "::1", "fe80::1", "fc00::1", "fd12::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                        "64:ff9b::a00:1", "2002:7f00:1::", "::127.0.0.1"};
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
        CHECKF(special(sp[i]), "%s not special", sp[i]);
    const char *pub[] = {"1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "188.184.21.108", "2001:db8::1",
                         "2606:4700::1111", "::ffff:8.8.8.8"};
    for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++)
        CHECKF(!special(pub[i]), "%s special", pub[i]);
}

TEST(by_address)
{
    hostpolicy *p;
    mlhep_err e;
    hostpolicy_addrs a;
    /* localhost resolves to loopback: allowed only when named exactly */
    CHECK(hostpolicy_parse("*", &p, &e) == 0);
    CHECK(hostpolicy_resolve(p, "localhost", 80, &a, &e) == MLHEP_EAUTH);
    hostpolicy_free(p);
    CHECK(hostpolicy_parse("localhost:8080", &p, &e) == 0);
    CHECKF(hostpolicy_resolve(p, "localhost", 8080, &a, &e) == 0, "%s", e.msg);
    CHECK(a.n >= 1);
    /* the sockets libcurl opens: the pinned addresses pass, others do not */
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    s4.sin_port = htons(8080);
    inet_pton(AF_INET, "10.9.9.9", &s4.sin_addr);
    CHECK(!hostpolicy_socket_ok(p, &a, (struct sockaddr *)&s4));
    inet_pton(AF_INET, "1.1.1.1", &s4.sin_addr); /* public, but the list names no wildcard */
    CHECK(!hostpolicy_socket_ok(p, &a, (struct sockaddr *)&s4));
    int pinned_ok = 0;
    for (size_t i = 0; i < a.n; i++)
        pinned_ok += hostpolicy_socket_ok(p, &a, (struct sockaddr *)&a.a[i]);
    CHECK(pinned_ok == (int)a.n);
    hostpolicy_free(p);
    /* an IP literal listed by network */
    CHECK(hostpolicy_parse("127.0.0.0/8:9000, *", &p, &e) == 0);
    CHECK(hostpolicy_resolve(p, "127.0.0.1", 9000, &a, &e) == 0 && a.n == 1);
    CHECK(hostpolicy_resolve(p, "127.0.0.1", 6379, &a, &e) == MLHEP_EAUTH);
    inet_pton(AF_INET, "1.1.1.1", &s4.sin_addr); /* a public redirect target with `*` */
    CHECK(hostpolicy_socket_ok(p, NULL, (struct sockaddr *)&s4));
    inet_pton(AF_INET, "192.168.0.1", &s4.sin_addr);
    CHECK(!hostpolicy_socket_ok(p, NULL, (struct sockaddr *)&s4));
    hostpolicy_free(p);
}

TEST(url_host)
{
    char h[256];
    int port;
    mlhep_err e;
    CHECK(hostpolicy_url_host("root://eos.cern.ch//a/b", 1094, h, sizeof h, &port, &e) == 0);
    CHECK(!strcmp(h, "eos.cern.ch") && port == 1094);
    CHECK(hostpolicy_url_host("http://[::1]:8080/x", 80, h, sizeof h, &port, &e) == 0);
    CHECK(!strcmp(h, "::1") && port == 8080);
    CHECK(hostpolicy_url_host("https://h:443?x", 80, h, sizeof h, &port, &e) == 0 && port == 443);
    CHECK(hostpolicy_url_host("http:///x", 80, h, sizeof h, &port, &e) == MLHEP_EINVAL);
    CHECK(hostpolicy_url_host("http://h:0/x", 80, h, sizeof h, &port, &e) != 0);
    CHECK(hostpolicy_url_host("nourl", 80, h, sizeof h, &port, &e) == MLHEP_EINVAL);
}

int main(void)
{
    RUN(syntax);
    RUN(by_name);
    RUN(special_ranges);
    RUN(by_address);
    RUN(url_host);
    return test_summary();
}
