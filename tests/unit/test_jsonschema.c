/* test_jsonschema.c - the JSON Schema subset: every keyword accepts what it should and
 * refuses what it should with the instance pointer and rule in the message; schemas
 * using unsupported keywords, bad regexes or dangling $refs are refused at load. */
#include "base/jsonschema.h"
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

/* Validates instance text against schema text; returns NULL if valid, else a static
 * copy of the message ("LOADFAIL: ..." if the schema did not load). */
static const char *run(const char *schema, const char *inst)
{
    static char msg[MLHEP_ERR_MAX + 16];
    json_error_t je;
    json_t *sd = json_loads(schema, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    json_t *id = json_loads(inst, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!sd || !id) {
        snprintf(msg, sizeof msg, "TESTBUG: bad JSON in test: %s", je.text);
        json_decref(sd);
        json_decref(id);
        return msg;
    }
    jschema *s = NULL;
    mlhep_err e;
    err_clear(&e);
    const char *ret = NULL;
    if (jschema_load_json(sd, "t", &s, &e) != 0) {
        snprintf(msg, sizeof msg, "LOADFAIL: %s", e.msg);
        ret = msg;
    } else if (jschema_validate(s, id, "doc", &e) != 0) {
        snprintf(msg, sizeof msg, "%s", e.msg);
        ret = msg;
    }
    jschema_free(s);
    json_decref(sd);
    json_decref(id);
    return ret;
}

typedef struct { const char *schema, *inst, *want; } tcase;

static int run_cases(const tcase *t, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const char *got = run(t[i].schema, t[i].inst);
        int ok = t[i].want ? (got && strstr(got, t[i].want)) : got == NULL;
        if (!ok) {
            printf("  case %zu: schema %s instance %s: want %s, got %s\n", i, t[i].schema,
                   t[i].inst, t[i].want ? t[i].want : "valid", got ? got : "valid");
            bad = 1;
        }
    }
    return bad;
}
#define CASES(arr) CHECK(run_cases(arr, sizeof arr / sizeof arr[0]) == 0)

TEST(types)
{
    static const tcase t[] = {
        {"{\"type\":\"integer\"}", "3", NULL},
        {"{\"type\":\"integer\"}", "3.0", NULL}, /* integral number is an integer */
        {"{\"type\":\"integer\"}", "3.5", "doc: /: expected integer, got number"},
        {"{\"type\":\"number\"}", "3", NULL},
        {"{\"type\":\"string\"}", "3", "expected string, got integer"},
        {"{\"type\":[\"integer\",\"string\"]}", "\"x\"", NULL},
        {"{\"type\":[\"string\",\"integer\"]}", "true", "expected integer or string, got boolean"},
        {"{\"type\":[\"null\",\"object\",\"array\"]}", "1", "expected object, array or null"},
        {"{\"type\":\"null\"}", "null", NULL},
        {"{\"type\":\"boolean\"}", "false", NULL},
        {"{\"type\":\"array\"}", "{}", "expected array, got object"},
        {"true", "{\"anything\":1}", NULL},
        {"false", "1", "no value is allowed here"},
        {"{}", "[1]", NULL},
    };
    CASES(t);
}

TEST(enum_and_const)
{
    static const tcase t[] = {
        {"{\"enum\":[\"minmax\",\"standard\"]}", "\"standard\"", NULL},
        {"{\"enum\":[\"minmax\",\"standard\"]}", "\"zscore\"",
         "\"zscore\" is not one of [\"minmax\",\"standard\"]"},
        {"{\"enum\":[\"minmax\",\"standard\"]}", "\"standrad\"",
         "\"standrad\" is not one of [\"minmax\",\"standard\"]; did you mean \"standard\"?"},
        {"{\"enum\":[1,2]}", "2.0", NULL}, /* numbers by value */
        {"{\"enum\":[[1,{\"a\":null}]]}", "[1,{\"a\":null}]", NULL},
        {"{\"const\":\"RS256\"}", "\"RS256\"", NULL},
        {"{\"const\":\"RS256\"}", "\"rs256\"", "must be \"RS256\""},
        {"{\"const\":{\"a\":1}}", "{\"a\":1.0}", NULL},
        {"{\"const\":{\"a\":1}}", "{\"a\":1,\"b\":2}", "must be {\"a\":1}"},
    };
    CASES(t);
}

TEST(objects)
{
    static const char *s = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
                           "\"n\":{\"type\":\"integer\"}},\"required\":[\"name\"],"
                           "\"additionalProperties\":false}";
    const tcase t[] = {
        {s, "{\"name\":\"x\",\"n\":1}", NULL},
        {s, "{\"n\":1}", "doc: /: missing required property \"name\""},
        {s, "{\"name\":\"x\",\"nn\":1}", "doc: /nn: unknown property (did you mean \"n\"? allowed: name, n)"},
        {s, "{\"name\":\"x\",\"n\":\"1\"}", "doc: /n: expected integer, got string"},
        {"{\"additionalProperties\":{\"type\":\"number\"}}", "{\"a\":1,\"b\":\"x\"}",
         "/b: expected number"},
        {"{\"patternProperties\":{\"^x_\":{\"type\":\"integer\"}},\"additionalProperties\":false}",
         "{\"x_a\":1,\"x_b\":2}", NULL},
        {"{\"patternProperties\":{\"^x_\":{\"type\":\"integer\"}},\"additionalProperties\":false}",
         "{\"x_a\":1,\"y\":2}", "/y: unknown property"},
        {"{\"patternProperties\":{\"^x_\":{\"type\":\"integer\"}}}", "{\"x_a\":1.5}",
         "/x_a: expected integer"},
        {"{\"propertyNames\":{\"pattern\":\"^[a-z]+$\"}}", "{\"ab\":1,\"Cd\":2}",
         "/Cd: property name \"Cd\" does not match the pattern ^[a-z]+$"},
        {"{\"minProperties\":1}", "{}", "has 0 properties, at least 1 required"},
        {"{\"maxProperties\":1}", "{\"a\":1,\"b\":2}", "at most 1 allowed"},
        {"{\"dependentRequired\":{\"files\":[\"labels\"]}}", "{\"files\":[]}",
         "property \"files\" requires property \"labels\""},
        {"{\"dependentRequired\":{\"files\":[\"labels\"]}}", "{\"x\":[]}", NULL},
        {"{\"properties\":{\"a/b\":{\"properties\":{\"c~d\":{\"type\":\"string\"}}}}}",
         "{\"a/b\":{\"c~d\":1}}", "doc: /a~1b/c~0d: expected string"},
    };
    CASES(t);
}

TEST(arrays)
{
    static const tcase t[] = {
        {"{\"items\":{\"type\":\"integer\"}}", "[1,2,3]", NULL},
        {"{\"items\":{\"type\":\"integer\"}}", "[1,2,\"x\"]", "doc: /2: expected integer"},
        {"{\"minItems\":1}", "[]", "has 0 items, at least 1 required"},
        {"{\"maxItems\":2}", "[1,2,3]", "has 3 items, at most 2 allowed"},
        {"{\"prefixItems\":[{\"type\":\"string\"},{\"enum\":[\"any\",\"all\"]}],\"items\":false}",
         "[\"x>1\",\"any\"]", NULL},
        {"{\"prefixItems\":[{\"type\":\"string\"},{\"enum\":[\"any\",\"all\"]}],\"items\":false}",
         "[\"x>1\",\"some\"]", "/1: \"some\" is not one of"},
        {"{\"prefixItems\":[{\"type\":\"string\"},{\"enum\":[\"any\",\"all\"]}],\"items\":false}",
         "[\"x>1\",\"any\",3]", "has 3 items, at most 2 allowed"},
        {"{\"prefixItems\":[{\"type\":\"string\"}],\"items\":{\"type\":\"integer\"}}",
         "[\"a\",1,2]", NULL},
        {"{\"uniqueItems\":true}", "[1,2,1.0]", "items 0 and 2 are equal"},
        {"{\"uniqueItems\":true}", "[1,\"1\",[1]]", NULL},
        {"{\"items\":{\"items\":{\"type\":\"number\"}}}", "[[1],[2,\"x\"]]", "doc: /1/1: expected number"},
    };
    CASES(t);
}

TEST(numbers_and_strings)
{
    static const tcase t[] = {
        {"{\"minimum\":1}", "1", NULL},
        {"{\"minimum\":1}", "0", "0 is less than the minimum 1"},
        {"{\"maximum\":1}", "1.5", "1.5 is greater than the maximum 1"},
        {"{\"exclusiveMinimum\":0}", "0", "0 must be greater than 0"},
        {"{\"exclusiveMaximum\":1}", "0.999", NULL},
        {"{\"exclusiveMaximum\":1}", "1", "1 must be less than 1"},
        {"{\"multipleOf\":0.1}", "0.3", NULL},
        {"{\"multipleOf\":2}", "3", "3 is not a multiple of 2"},
        {"{\"minimum\":-1,\"type\":\"integer\"}", "-1", NULL},
        {"{\"minimum\":1}", "\"0\"", NULL}, /* numeric keywords ignore strings */
        {"{\"minLength\":1}", "\"\"", "string of 0 characters is shorter than the minimum 1"},
        {"{\"maxLength\":2}", "\"\\u00e9\\u00e9\"", NULL}, /* code points, not bytes */
        {"{\"maxLength\":2}", "\"abc\"", "longer than the maximum 2"},
        {"{\"pattern\":\"^root://[^/]+//\"}", "\"root://host//store/a.root\"", NULL},
        {"{\"pattern\":\"^root://[^/]+//\"}", "\"root://host/store/a.root\"",
         "\"root://host/store/a.root\" does not match the pattern ^root://[^/]+//"},
        {"{\"pattern\":\"b\"}", "\"abc\"", NULL}, /* unanchored search */
        {"{\"pattern\":\"^[[:alnum:]_]+$\"}", "\"Jet_pt\"", NULL},
        {"{\"pattern\":\"^a$\"}", "\"a\\u0000b\"", "does not match"}, /* NUL does not cut */
    };
    CASES(t);
}

TEST(combinators)
{
    static const tcase t[] = {
        {"{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "1", "1 is less than the minimum 2"},
        {"{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", "\"a\"", NULL},
        {"{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", "[]",
         "doc: /: expected integer or string"},
        {"{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\"}]}", "1.5", NULL},
        {"{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\"}]}", "1",
         "matches more than one of the oneOf alternatives (1 and 2)"},
        /* the branch that got deeper into the instance gives the message */
        {"{\"properties\":{\"files\":{\"oneOf\":["
         "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"path\"]}},"
         "{\"type\":\"string\"}]}}}",
         "{\"files\":[{\"path\":\"a\"},{\"label\":1}]}",
         "doc: /files/1: missing required property \"path\""},
        /* same depth, not all type errors: every alternative is listed */
        {"{\"anyOf\":[{\"type\":\"integer\",\"minimum\":5},{\"type\":\"string\"}]}", "3",
         "matches none of the anyOf alternatives: (1) 3 is less than the minimum 5; (2) "
         "expected string, got integer"},
        {"{\"not\":{\"type\":\"string\"}}", "1", NULL},
        {"{\"not\":{\"type\":\"string\"}}", "\"a\"", "matches a schema it must not match"},
        {"{\"not\":{\"required\":[\"labels\"],\"description\":\"labels go with files as strings\"}}",
         "{\"labels\":[]}", "doc: /: labels go with files as strings"},
        {"{\"if\":{\"properties\":{\"kind\":{\"const\":\"a\"}}},\"then\":{\"required\":[\"x\"]},"
         "\"else\":{\"required\":[\"y\"]}}", "{\"kind\":\"a\",\"x\":1}", NULL},
        {"{\"if\":{\"properties\":{\"kind\":{\"const\":\"a\"}}},\"then\":{\"required\":[\"x\"]},"
         "\"else\":{\"required\":[\"y\"]}}", "{\"kind\":\"b\",\"x\":1}",
         "missing required property \"y\""},
    };
    CASES(t);
}

TEST(refs)
{
    static const char *s =
        "{\"$defs\":{\"file\":{\"type\":\"object\",\"required\":[\"path\",\"label\"],"
        "\"properties\":{\"path\":{\"type\":\"string\"},\"label\":{\"type\":[\"integer\",\"string\"]}}},"
        "\"node\":{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":"
        "{\"$ref\":\"#/$defs/node\"}}}}},"
        "\"properties\":{\"files\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/file\"}},"
        "\"tree\":{\"$ref\":\"#/$defs/node\"}}}";
    const tcase t[] = {
        {s, "{\"files\":[{\"path\":\"a\",\"label\":0},{\"path\":\"b\",\"label\":\"sig\"}]}", NULL},
        {s, "{\"files\":[{\"path\":\"a\",\"label\":0},{\"path\":\"b\",\"label\":1},"
            "{\"path\":\"c\",\"label\":[1]}]}",
         "doc: /files/2/label: expected integer or string"},
        {s, "{\"tree\":{\"kids\":[{\"kids\":[{\"kids\":[1]}]}]}}", "/tree/kids/0/kids/0/kids/0: expected object"},
        {"{\"$ref\":\"#\"}", "1", "$ref loop"},
        {"{\"properties\":{\"a\":{\"$ref\":\"#/properties/b\"},\"b\":{\"type\":\"string\"}}}",
         "{\"a\":1}", "/a: expected string"},
        {"{\"prefixItems\":[{\"type\":\"integer\"}],\"items\":{\"$ref\":\"#/prefixItems/0\"}}",
         "[1,2,\"x\"]", "/2: expected integer"},
    };
    CASES(t);
}

TEST(deep_instance_refused_not_crashed)
{
    char *deep = malloc(5000);
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    for (int i = 0; i < 1000; i++)
        deep[n++] = ']';
    deep[n] = 0;
    const char *got = run("{\"items\":{\"$ref\":\"#\"}}", deep);
    free(deep);
    CHECK(got && strstr(got, "nested deeper than"));
}

TEST(schema_load_errors)
{
    static const tcase t[] = {
        {"{\"typo_keyword\":1}", "1", "LOADFAIL: schema t: /typo_keyword: unsupported keyword"},
        {"{\"contains\":{}}", "1", "unsupported keyword \"contains\""},
        {"{\"type\":\"int\"}", "1", "unknown type \"int\""},
        {"{\"type\":[]}", "1", "type must be"},
        {"{\"enum\":[]}", "1", "enum must be a non-empty array"},
        {"{\"properties\":{\"a\":3}}", "1", "schema t: /properties/a: a schema must be"},
        {"{\"minItems\":-1}", "1", "must be a non-negative integer"},
        {"{\"minimum\":\"1\"}", "1", "minimum must be a number"},
        {"{\"multipleOf\":0}", "1", "multipleOf must be a number > 0"},
        {"{\"pattern\":\"^[0-9]{3}(\"}", "\"1\"", "does not compile as POSIX ERE"},
        {"{\"pattern\":\"^\\\\d+$\"}", "\"1\"", "\\d is not POSIX"},
        {"{\"pattern\":\"^(?=a)\"}", "\"1\"", "(?...) groups are not POSIX"},
        {"{\"pattern\":\"a+?\"}", "\"1\"", "lazy quantifiers"},
        {"{\"patternProperties\":{\"(\":{}}}", "{}", "does not compile"},
        {"{\"$ref\":\"#/$defs/missing\"}", "1", "$ref #/$defs/missing does not resolve"},
        {"{\"$ref\":\"other.json#/x\"}", "1", "does not resolve"},
        {"{\"anyOf\":[]}", "1", "anyOf must be a non-empty array"},
        {"{\"required\":[1]}", "1", "required must be an array of property names"},
        {"{\"dependentRequired\":{\"a\":\"b\"}}", "1", "dependentRequired values"},
        {"{\"uniqueItems\":1}", "1", "uniqueItems must be true or false"},
        {"{\"$comment\":\"x\",\"title\":\"t\",\"description\":\"d\",\"format\":\"uri\","
         "\"default\":1,\"examples\":[1],\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
         "\"$id\":\"x\"}", "1", NULL},
    };
    CASES(t);
}

TEST(find_dir_and_load_named)
{
    char dir[] = "/tmp/mlhep-test-js.XXXXXX";
    CHECK(mkdtemp(dir));
    char p[256], got[4096];
    mlhep_err e;
    /* configured dir without workflow.schema.json is refused */
    CHECK(jschema_find_dir(dir, got, sizeof got, &e) == MLHEP_ENOTFOUND);
    snprintf(p, sizeof p, "%s/workflow.schema.json", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"type\":\"object\",\"required\":[\"name\"]}", f);
    fclose(f);
    CHECK(jschema_find_dir(dir, got, sizeof got, &e) == 0 && strcmp(got, dir) == 0);
    setenv("MLHEP_SCHEMAS", dir, 1);
    CHECK(jschema_find_dir(NULL, got, sizeof got, &e) == 0 && strcmp(got, dir) == 0);
    jschema *s = NULL;
    CHECKF(jschema_load_named(NULL, "workflow", &s, &e) == 0, "%s", e.msg);
    json_t *doc = json_loads("{\"nam\":1}", 0, NULL);
    CHECK(jschema_validate(s, doc, "workflow", &e) == MLHEP_EINVAL);
    CHECKF(strcmp(e.msg, "workflow: /: missing required property \"name\"") == 0, "%s", e.msg);
    json_decref(doc);
    jschema_free(s);
    CHECK(jschema_load_named(NULL, "nosuch", &s, &e) == MLHEP_ENOTFOUND);
    setenv("MLHEP_SCHEMAS", "/nonexistent", 1);
    CHECK(jschema_find_dir(NULL, got, sizeof got, &e) == MLHEP_ENOTFOUND);
    CHECKF(strstr(e.msg, "MLHEP_SCHEMAS=/nonexistent") != NULL, "%s", e.msg);
    unsetenv("MLHEP_SCHEMAS");
    /* the repository's schemas/ is found relative to this test binary
     * (build/asan/tests/test_jsonschema -> ../../../schemas) */
    if (jschema_find_dir(NULL, got, sizeof got, &e) == 0)
        CHECKF(strstr(got, "/schemas") != NULL, "%s", got);
    unlink(p);
    rmdir(dir);
}

TEST(ptr_append_escapes)
{
    char p[32] = "";
    jschema_ptr_append(p, sizeof p, "a/b");
    jschema_ptr_append(p, sizeof p, "~c");
    CHECK(strcmp(p, "/a~1b/~0c") == 0);
    char small[8] = "";
    jschema_ptr_append(small, sizeof small, "abcdefghijkl"); /* truncates, stays terminated */
    CHECK(strlen(small) < sizeof small);
}

/* Every example under schemas/examples/<schema>/{good,bad}/ goes through the real
 * schema: good ones must pass, bad ones must fail with a message containing the text
 * of the sidecar NAME.expect file. One PASS/FAIL line per example. */
static int read_text(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = 0;
    while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
        buf[--got] = 0;
    return 0;
}

static int json_file_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static void run_examples(const char *dir, const char *schema_name, int good, int *count)
{
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/examples/%s/%s", dir, schema_name, good ? "good" : "bad");
    char spath[4400];
    snprintf(spath, sizeof spath, "%s/%s.schema.json", dir, schema_name);
    jschema *s = NULL;
    mlhep_err e;
    if (jschema_load_file(spath, &s, &e) != 0) {
        printf("FAIL schemas:%s: schema does not load: %s\n", schema_name, e.msg);
        test_nfail_++;
        return;
    }
    struct dirent **ents;
    int n = scandir(sub, &ents, json_file_filter, alphasort);
    for (int i = 0; i < n; i++) {
        char path[4700], name[600], why[8192] = "";
        snprintf(path, sizeof path, "%s/%s", sub, ents[i]->d_name);
        snprintf(name, sizeof name, "%s/%s/%s", schema_name, good ? "good" : "bad", ents[i]->d_name);
        free(ents[i]);
        (*count)++;
        json_error_t je;
        json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!doc) {
            snprintf(why, sizeof why, "not JSON: line %d: %s", je.line, je.text);
        } else {
            err_clear(&e);
            int rc = jschema_validate(s, doc, schema_name, &e);
            json_decref(doc);
            if (good && rc)
                snprintf(why, sizeof why, "rejected: %s", e.msg);
            if (!good) {
                char xp[4800], expect[1024];
                snprintf(xp, sizeof xp, "%.*s.expect", (int)(strlen(path) - 5), path);
                if (read_text(xp, expect, sizeof expect) != 0 || !expect[0])
                    snprintf(why, sizeof why, "no %s with the expected message", xp);
                else if (!rc)
                    snprintf(why, sizeof why, "accepted, expected \"%s\"", expect);
                else if (!strstr(e.msg, expect))
                    snprintf(why, sizeof why, "message \"%s\" lacks \"%s\"", e.msg, expect);
            }
        }
        if (why[0]) {
            printf("FAIL schemas:%s: %s\n", name, why);
            test_nfail_++;
        } else {
            printf("PASS schemas:%s\n", name);
            test_npass_++;
        }
    }
    if (n > 0)
        free(ents);
    jschema_free(s);
}

static void schema_examples(void)
{
    char dir[4096];
    mlhep_err e;
    const char *names[] = {"workflow", "job-status", "predict-request", "predict-response"};
    if (jschema_find_dir(NULL, dir, sizeof dir, &e) != 0) {
        printf("FAIL schemas: %s\n", e.msg);
        test_nfail_++;
        return;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int ngood = 0, nbad = 0;
        run_examples(dir, names[i], 1, &ngood);
        run_examples(dir, names[i], 0, &nbad);
        if (ngood == 0 || nbad == 0) {
            printf("FAIL schemas:%s: needs good and bad examples (%d good, %d bad)\n", names[i],
                   ngood, nbad);
            test_nfail_++;
        }
    }
}

int main(void)
{
    RUN(types);
    RUN(enum_and_const);
    RUN(objects);
    RUN(arrays);
    RUN(numbers_and_strings);
    RUN(combinators);
    RUN(refs);
    RUN(deep_instance_refused_not_crashed);
    RUN(schema_load_errors);
    RUN(find_dir_and_load_named);
    RUN(ptr_append_escapes);
    schema_examples();
    return test_summary();
}
