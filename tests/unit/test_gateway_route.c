/* test_gateway_route.c - the gateway's URL routing (gateway/route.h): literal and
 * parameter segments, the characters a parameter may hold, "." and ".." refused, no
 * empty segment or trailing slash, a {rest*} parameter over several segments, 404 against 405 with the allowed methods (HEAD
 * wherever GET), HEAD matching GET routes, limits on path and parameter length. */
#include "gateway/route.h"
#include "test.h"

#include <stdlib.h>

static const gw_route table[] = {
    {GW_GET, "/healthz"},
    {GW_GET, "/"},
    {GW_POST, "/v1/jobs"},
    {GW_GET, "/v1/jobs"},
    {GW_GET, "/v1/jobs/{id}"},
    {GW_GET, "/v1/jobs/{id}/artifacts/{file*}"},
    {GW_POST, "/v1/jobs/{id}/cancel"},
    {GW_GET | GW_DELETE, "/v1/models/{name}"},
    {GW_POST, "/v2/models/{name}/versions/{version}/infer"},
};
#define N (sizeof table / sizeof table[0])

static int match(const char *method, const char *path, gw_match *m)
{
    return gw_route_match(table, N, sizeof table[0], method, path, m);
}

TEST(method_bits_and_text)
{
    CHECK_EQ_INT(gw_method_bit("GET"), GW_GET);
    CHECK_EQ_INT(gw_method_bit("DELETE"), GW_DELETE);
    CHECK_EQ_INT(gw_method_bit("get"), 0); /* methods are case-sensitive (RFC 9110) */
    CHECK_EQ_INT(gw_method_bit("BREW"), 0);
    CHECK_EQ_INT(gw_method_bit(NULL), 0);
    char t[64];
    gw_methods_text(GW_GET | GW_HEAD | GW_POST, t, sizeof t);
    CHECK(!strcmp(t, "GET, HEAD, POST"));
    gw_methods_text(0, t, sizeof t);
    CHECK(!strcmp(t, ""));
    /* a small buffer: whole names only, always terminated */
    gw_methods_text(GW_GET | GW_HEAD | GW_POST, t, 9);
    CHECK(!strcmp(t, "GET"));
    gw_methods_text(GW_GET, t, 1);
    CHECK(!strcmp(t, ""));
}

TEST(literals_and_parameters)
{
    gw_match m;
    CHECK_EQ_INT(match("GET", "/healthz", &m), 0);
    CHECK_EQ_INT(m.nparams, 0);
    CHECK_EQ_INT(match("GET", "/", &m), 1);
    CHECK_EQ_INT(match("POST", "/v1/jobs", &m), 2);
    CHECK_EQ_INT(match("GET", "/v1/jobs", &m), 3);
    const char *id = "0123456789abcdef0123456789abcdef";
    char p[256];
    snprintf(p, sizeof p, "/v1/jobs/%s", id);
    CHECK_EQ_INT(match("GET", p, &m), 4);
    CHECK_EQ_INT(m.nparams, 1);
    CHECK(!strcmp(gw_param(&m, "id"), id));
    CHECK(gw_param(&m, "file") == NULL);
    CHECK_EQ_INT(match("GET", "/v1/jobs/abc/artifacts/roc.svg", &m), 5);
    CHECK(!strcmp(gw_param(&m, "id"), "abc") && !strcmp(gw_param(&m, "file"), "roc.svg"));
    CHECK_EQ_INT(match("POST", "/v2/models/ttH/versions/2/infer", &m), 8);
    CHECK(!strcmp(gw_param(&m, "name"), "ttH") && !strcmp(gw_param(&m, "version"), "2"));
    /* every allowed character, and dots inside a name */
    CHECK_EQ_INT(match("GET", "/v1/models/A-z_0.9@latest", &m), 7);
    CHECK(!strcmp(gw_param(&m, "name"), "A-z_0.9@latest"));
    CHECK_EQ_INT(match("GET", "/v1/models/...", &m), 7);
    CHECK_EQ_INT(match("GET", "/v1/models/.hidden", &m), 7);
}

TEST(dot_segments_and_bad_characters_refused)
{
    gw_match m;
    static const char *const refused[] = {
        "/v1/jobs/..",          "/v1/jobs/.",           "/v1/jobs/../cancel",   "/v1/jobs/x/artifacts/..",
        "/v1/jobs/x/artifacts/.", "/v1/jobs/a b",       "/v1/jobs/a%2e",        "/v1/jobs/a\\b",
        "/v1/jobs/a:b",         "/v1/jobs/a\nb",        "/v1/jobs/\xc3\xa9",    "/v1/jobs/a;b",
        "/v1/jobs/a*",          "/v1/jobs/~",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECKF(match("GET", refused[i], &m) == GW_ROUTE_NOTFOUND, "%s matched", refused[i]);
}

TEST(exact_paths_only)
{
    gw_match m;
    static const char *const refused[] = {
        "",          "healthz",       "/healthz/",  "//healthz",      "/healthz?x=1", "/v1/jobs/",
        "/v1//jobs", "/v1/jobs//",    "/v1/jobs/x/", "/v1/jobs/x/artifacts", "/v1/jobs/x/artifacts/",
        "/V1/jobs",  "/v1/jobs/x/artifacts/a/", "/v2/models/m/versions//infer", "/v1/jobs/x/artifacts//b",
        "/v1/jobs/x/artifacts/a//b", "/v1/models/a/b",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECKF(match("GET", refused[i], &m) == GW_ROUTE_NOTFOUND, "'%s' matched", refused[i]);
    CHECK_EQ_INT(match("GET", NULL, &m), GW_ROUTE_NOTFOUND);
    CHECK_EQ_INT(match("POST", "/v2/models/m/versions//infer", &m), GW_ROUTE_NOTFOUND);
}

TEST(rest_parameter_takes_several_segments)
{
    gw_match m;
    CHECK_EQ_INT(match("GET", "/v1/jobs/abc/artifacts/hists/index.html", &m), 5);
    CHECK(!strcmp(gw_param(&m, "id"), "abc") && !strcmp(gw_param(&m, "file"), "hists/index.html"));
    CHECK_EQ_INT(match("GET", "/v1/jobs/abc/artifacts/a/b/c.svg", &m), 5);
    CHECK(!strcmp(gw_param(&m, "file"), "a/b/c.svg"));
    /* every segment is checked as a parameter is: no dot segments, no bad characters */
    static const char *const refused[] = {
        "/v1/jobs/x/artifacts/hists/..",     "/v1/jobs/x/artifacts/../x",   "/v1/jobs/x/artifacts/a/./b",
        "/v1/jobs/x/artifacts/a/../../conf", "/v1/jobs/x/artifacts/a/b c",  "/v1/jobs/x/artifacts/a/b%2f",
        "/v1/jobs/x/artifacts/a/\\b",        "/v1/jobs/x/artifacts/a/b/",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECKF(match("GET", refused[i], &m) == GW_ROUTE_NOTFOUND, "%s matched", refused[i]);
    /* the whole rest is one parameter: its length limit holds */
    char p[GW_PARAM_MAX + 64];
    int n = snprintf(p, sizeof p, "/v1/jobs/x/artifacts/");
    while (n < (int)sizeof p - 3) {
        p[n++] = 'a';
        p[n++] = '/';
    }
    p[n++] = 'a';
    p[n] = '\0';
    CHECK_EQ_INT(match("GET", p, &m), GW_ROUTE_NOTFOUND);
}

TEST(method_not_allowed_lists_methods)
{
    gw_match m;
    CHECK_EQ_INT(match("PUT", "/v1/jobs", &m), GW_ROUTE_METHOD);
    CHECK_EQ_INT(m.allowed, GW_GET | GW_HEAD | GW_POST);
    CHECK_EQ_INT(match("DELETE", "/healthz", &m), GW_ROUTE_METHOD);
    CHECK_EQ_INT(m.allowed, GW_GET | GW_HEAD);
    CHECK_EQ_INT(match("GET", "/v1/jobs/x/cancel", &m), GW_ROUTE_METHOD);
    CHECK_EQ_INT(m.allowed, GW_POST); /* no HEAD without GET */
    CHECK_EQ_INT(match("POST", "/v1/models/m", &m), GW_ROUTE_METHOD);
    CHECK_EQ_INT(m.allowed, GW_GET | GW_HEAD | GW_DELETE);
    /* an unknown method on a known path is 405 too, on an unknown path 404 */
    CHECK_EQ_INT(match("BREW", "/healthz", &m), GW_ROUTE_METHOD);
    CHECK_EQ_INT(match("BREW", "/coffee", &m), GW_ROUTE_NOTFOUND);
    CHECK_EQ_INT(match(NULL, "/healthz", &m), GW_ROUTE_METHOD);
    /* the method does not change what a refused path is */
    CHECK_EQ_INT(match("POST", "/v1/jobs/../cancel", &m), GW_ROUTE_NOTFOUND);
}

TEST(head_matches_get)
{
    gw_match m;
    CHECK_EQ_INT(match("HEAD", "/healthz", &m), 0);
    CHECK_EQ_INT(match("HEAD", "/v1/jobs", &m), 3);
    CHECK_EQ_INT(match("HEAD", "/v1/models/x", &m), 7);
    CHECK_EQ_INT(match("HEAD", "/v1/jobs/x/cancel", &m), GW_ROUTE_METHOD);
}

TEST(lengths)
{
    gw_match m;
    char p[GW_PATH_MAX + 64];
    /* a parameter of GW_PARAM_MAX - 1 characters fits, one more does not */
    memcpy(p, "/v1/jobs/", 9);
    memset(p + 9, 'a', GW_PARAM_MAX - 1);
    p[9 + GW_PARAM_MAX - 1] = '\0';
    CHECK_EQ_INT(match("GET", p, &m), 4);
    CHECK_EQ_INT(strlen(gw_param(&m, "id")), GW_PARAM_MAX - 1);
    p[9 + GW_PARAM_MAX - 1] = 'a';
    p[9 + GW_PARAM_MAX] = '\0';
    CHECK_EQ_INT(match("GET", p, &m), GW_ROUTE_NOTFOUND);
    /* a path of GW_PATH_MAX bytes or more is refused before any matching */
    memset(p, 'a', sizeof p);
    p[0] = '/';
    p[GW_PATH_MAX] = '\0';
    CHECK_EQ_INT(match("GET", p, &m), GW_ROUTE_NOTFOUND);
    /* a table with more parameters than a match holds: no match, no overflow */
    static const gw_route deep[] = {{GW_GET, "/{a}/{b}/{c}/{d}/{e}"}};
    CHECK_EQ_INT(gw_route_match(deep, 1, sizeof deep[0], "GET", "/1/2/3/4/5", &m), GW_ROUTE_NOTFOUND);
    static const gw_route four[] = {{GW_GET, "/{a}/{b}/{c}/{a_parameter_name_longer_than_its_field}"}};
    CHECK_EQ_INT(gw_route_match(four, 1, sizeof four[0], "GET", "/1/2/3/4", &m), 0);
    CHECK_EQ_INT(m.nparams, 4);
    CHECK(!strcmp(m.value[3], "4") && strlen(m.name[3]) == sizeof m.name[3] - 1);
}

/* A table of a larger struct whose first member is the gw_route (as gateway.c has). */
TEST(stride)
{
    struct big {
        gw_route r;
        const char *name;
        int extra[7];
    } t[] = {{{GW_GET, "/a"}, "a", {0}}, {{GW_POST, "/b/{x}"}, "b", {0}}};
    gw_match m;
    CHECK_EQ_INT(gw_route_match(&t[0].r, 2, sizeof t[0], "POST", "/b/7", &m), 1);
    CHECK(!strcmp(gw_param(&m, "x"), "7"));
    CHECK_EQ_INT(gw_route_match(&t[0].r, 2, sizeof t[0], "GET", "/b/7", &m), GW_ROUTE_METHOD);
}

int main(void)
{
    RUN(method_bits_and_text);
    RUN(literals_and_parameters);
    RUN(dot_segments_and_bad_characters_refused);
    RUN(exact_paths_only);
    RUN(rest_parameter_takes_several_segments);
    RUN(method_not_allowed_lists_methods);
    RUN(head_matches_get);
    RUN(lengths);
    RUN(stride);
    return test_summary();
}
