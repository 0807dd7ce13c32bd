/* test_expr.c - the expression language: precedence, chained comparisons, every
 * function against libm, jagged broadcasting and reductions (incl. empty lists),
 * run-time length checks, every compile error class with its column, limits, and
 * block-wise evaluation against plain C loops on random chunks. */
#include <stdint.h>
#include <stdlib.h>

#include "data/expr.h"
#include "test.h"

/* Chunk used by most tests: 4 events.
 *   x = {3, -1.5, 0, 16}, y = {1, 2, 3, 4}            (flat)
 *   J = {[1,2], [], [3,4,5], [6]}                      (jagged)
 *   K = {[10,20], [], [30,40,50], [60]}                (same lengths as J)
 *   M = {[1], [1], [1,2,3], [6]}                       (different lengths) */
#define N4 4
static const double xv[N4] = {3, -1.5, 0, 16}, yv[N4] = {1, 2, 3, 4};
static const int64_t joff[N4 + 1] = {0, 2, 2, 5, 6};
static const double jv[6] = {1, 2, 3, 4, 5, 6}, kv[6] = {10, 20, 30, 40, 50, 60};
static const int64_t moff[N4 + 1] = {0, 1, 2, 5, 6};
static const double mv[6] = {1, 1, 1, 2, 3, 6};

static expr_schema *schema4(void)
{
    expr_schema *s = expr_schema_new();
    expr_schema_add(s, "x", EXPR_FLAT, NULL);
    expr_schema_add(s, "y", EXPR_FLAT, NULL);
    expr_schema_add(s, "J", EXPR_JAGGED, NULL);
    expr_schema_add(s, "K", EXPR_JAGGED, NULL);
    expr_schema_add(s, "M", EXPR_JAGGED, NULL);
    expr_schema_add(s, "log", EXPR_FLAT, NULL); /* a branch named like a function */
    return s;
}

static const expr_column cols4[] = {
    {"x", EXPR_FLAT, NULL, xv},   {"y", EXPR_FLAT, NULL, yv},   {"J", EXPR_JAGGED, joff, jv},
    {"K", EXPR_JAGGED, joff, kv}, {"M", EXPR_JAGGED, moff, mv}, {"log", EXPR_FLAT, NULL, yv},
};

/* Compiles and evaluates text on the 4-event chunk; returns 0 and fills *r. The
 * workspace is static so results stay valid until the next call. */
static expr_ws *g_ws;
static int run4(const char *text, expr_column *r, mlhep_err *e)
{
    expr_schema *s = schema4();
    expr *x = NULL;
    int rc = expr_compile(text, s, NULL, &x, e);
    expr_schema_free(s);
    if (rc)
        return rc;
    if (!g_ws)
        g_ws = expr_ws_new();
    rc = expr_eval(x, cols4, sizeof cols4 / sizeof cols4[0], N4, g_ws, r, e);
    expr_free(x);
    return rc;
}

static int same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (a == b)
        return 1;
    return fabs(a - b) <= 1e-15 * fmax(fabs(a), fabs(b));
}

/* Flat expression over the 4-event chunk must equal want[0..3]. */
#define CHECK_FLAT4(text, w0, w1, w2, w3)                                                  \
    do {                                                                                   \
        expr_column r_;                                                                    \
        mlhep_err e_ = {0};                                                                \
        int rc_ = run4(text, &r_, &e_);                                                    \
        CHECKF(rc_ == 0, "%s: %s", text, e_.msg);                                          \
        CHECKF(r_.kind == EXPR_FLAT, "%s: not flat", text);                                \
        const double w_[4] = {w0, w1, w2, w3};                                             \
        for (int i_ = 0; i_ < 4; i_++)                                                     \
            CHECKF(same(r_.values[i_], w_[i_]), "%s: event %d: got %.17g want %.17g", text, \
                   i_, r_.values[i_], w_[i_]);                                             \
    } while (0)

/* Constant expression (evaluated on the chunk) must equal want in every event. */
#define CHECK_CONST(text, want) CHECK_FLAT4(text, want, want, want, want)

TEST(precedence_and_associativity)
{
    CHECK_CONST("1+2*3", 7);
    CHECK_CONST("(1+2)*3", 9);
    CHECK_CONST("10-4-3", 3);
    CHECK_CONST("2**3**2", 512);
    CHECK_CONST("-2**2", -4);
    CHECK_CONST("(-2)**2", 4);
    CHECK_CONST("2**-1", 0.5);
    CHECK_CONST("--3", 3);
    CHECK_CONST("+3", 3);
    CHECK_CONST("2*3%4", 2);
    CHECK_CONST("7//2", 3);
    CHECK_CONST("-7//2", -4);
    CHECK_CONST("-7%3", 2);
    CHECK_CONST("7%-3", -2);
    CHECK_CONST("24/4/3", 2);
    CHECK_CONST("1 or 0 and 0", 1);
    CHECK_CONST("(1 or 0) and 0", 0);
    CHECK_CONST("not 0 and 0", 0);
    CHECK_CONST("not 1 < 0", 1);
    CHECK_CONST("1 + 2 == 3", 1);
    CHECK_CONST("True + True", 2);
    CHECK_CONST("1e3 + .5 + 2.", 1002.5);
    CHECK_CONST("1.5E-1", 0.15);
    /* the same rules on columns (not constant folded) */
    CHECK_FLAT4("-x**2", -9, -2.25, -0.0, -256);
    CHECK_FLAT4("x - y - 1", 1, -4.5, -4, 11);
    CHECK_FLAT4("x * y + y", 4, -1, 3, 68);
    CHECK_FLAT4("y ** y ** 0.5", 1, pow(2, sqrt(2)), pow(3, sqrt(3)), 16);
    CHECK_FLAT4("2 ** -y", 0.5, 0.25, 0.125, 0.0625);
    CHECK_FLAT4("x // y", 3, -1, 0, 4);
    CHECK_FLAT4("x % y", 0, 0.5, 0, 0);
    CHECK_FLAT4("x > 1 & y < 4", 1, 0, 0, 0);       /* & is logical, below comparisons */
    CHECK_FLAT4("x > 1 && y < 4 || y == 2", 1, 1, 0, 0);
    CHECK_FLAT4("x > 1 | y == 3 and x == 0", 1, 0, 1, 1);
    CHECK_FLAT4("~(x > 1)", 0, 1, 1, 0);
    CHECK_FLAT4("!(x > 1)", 0, 1, 1, 0);
    CHECK_FLAT4("not x", 0, 0, 1, 0);
    CHECK_FLAT4("x != 0 and not y == 4", 1, 1, 0, 0);
    CHECK_FLAT4("log", 1, 2, 3, 4);                 /* a branch, not the function */
    CHECK_FLAT4("log(log)", 0, log(2), log(3), log(4));
    CHECK_FLAT4("np.sqrt(y) + numpy.abs(x)", 4, sqrt(2) + 1.5, sqrt(3), 18);
    CHECK_FLAT4("x**2", 9, 2.25, 0, 256);
}

TEST(chained_comparisons)
{
    CHECK_FLAT4("1 <= x <= 16", 1, 0, 0, 1);
    CHECK_FLAT4("-2 < x < 3", 0, 1, 1, 0);
    CHECK_FLAT4("3 > x > -2", 0, 1, 1, 0);
    CHECK_FLAT4("y < x < 10", 1, 0, 0, 0);
    CHECK_FLAT4("0 <= y <= x <= 16", 1, 0, 0, 1);
    CHECK_FLAT4("0 < x*2 < 10", 1, 0, 0, 0); /* shared middle operand (a computed value) */
    CHECK_FLAT4("0 < x*2 < y*7 < 22", 1, 0, 0, 0);
    CHECK_FLAT4("x == x == 3", 1, 0, 0, 0);
    CHECK_FLAT4("1 < 2 < x", 1, 0, 0, 1);
    CHECK_CONST("1 < 2 < 3", 1);
    CHECK_CONST("1 < 3 < 2", 0);
    CHECK_CONST("3 > 2 == 2", 1);
    /* not Python's "(a < b) < c": 5 > 4 > 3 is True */
    CHECK_CONST("5 > 4 > 3", 1);
    /* chained on jagged values, reduced */
    CHECK_FLAT4("sum(2 <= J*1 <= 4)", 1, 0, 2, 0);
    CHECK_FLAT4("any(0 < J - y < 2)", 1, 0, 1, 0);
}

typedef double (*f1)(double);
typedef double (*f2)(double, double);

static double c_sign(double v) { return v > 0 ? 1 : v < 0 ? -1 : v; }
static double c_square(double v) { return v * v; }
static double c_neg(double v) { return -v; }
static double c_isnan(double v) { return isnan(v) ? 1 : 0; }
static double c_isinf(double v) { return isinf(v) ? 1 : 0; }
static double c_isfinite(double v) { return isfinite(v) ? 1 : 0; }
static double c_signbit(double v) { return signbit(v) ? 1 : 0; }
static double c_not(double v) { return v == 0; }
static double c_lgamma(double v) { int s; return lgamma_r(v, &s); }
static double c_minimum(double a, double b) { return isnan(a) || isnan(b) ? NAN : a < b ? a : b; }
static double c_maximum(double a, double b) { return isnan(a) || isnan(b) ? NAN : a > b ? a : b; }
static double c_and(double a, double b) { return a != 0 && b != 0; }
static double c_or(double a, double b) { return a != 0 || b != 0; }

TEST(functions_match_libm)
{
    static const struct { const char *name; f1 f; } un[] = {
        {"abs", fabs}, {"absolute", fabs}, {"fabs", fabs}, {"sqrt", sqrt}, {"cbrt", cbrt},
        {"exp", exp}, {"exp2", exp2}, {"expm1", expm1}, {"log", log}, {"log10", log10},
        {"log2", log2}, {"log1p", log1p}, {"sin", sin}, {"cos", cos}, {"tan", tan},
        {"arcsin", asin}, {"asin", asin}, {"arccos", acos}, {"acos", acos}, {"arctan", atan},
        {"atan", atan}, {"sinh", sinh}, {"cosh", cosh}, {"tanh", tanh}, {"arcsinh", asinh},
        {"asinh", asinh}, {"arccosh", acosh}, {"acosh", acosh}, {"arctanh", atanh},
        {"atanh", atanh}, {"floor", floor}, {"ceil", ceil}, {"trunc", trunc}, {"round", rint},
        {"rint", rint}, {"sign", c_sign}, {"square", c_square}, {"negative", c_neg},
        {"neg", c_neg}, {"isnan", c_isnan}, {"isinf", c_isinf}, {"isfinite", c_isfinite},
        {"signbit", c_signbit}, {"erf", erf}, {"erfc", erfc}, {"gamma", tgamma},
        {"tgamma", tgamma}, {"lgamma", c_lgamma}, {"logical_not", c_not},
    };
    static const struct { const char *name; f2 f; } bin[] = {
        {"arctan2", atan2}, {"atan2", atan2}, {"hypot", hypot}, {"pow", pow}, {"power", pow},
        {"fmin", fmin}, {"fmax", fmax}, {"minimum", c_minimum}, {"maximum", c_maximum},
        {"min", c_minimum}, {"max", c_maximum}, {"copysign", copysign}, {"fmod", fmod},
        {"nextafter", nextafter}, {"logical_and", c_and}, {"logical_or", c_or},
    };
    enum { NS = 13 };
    static const double sv[NS] = {-2.5, -1, -0.5, -0.0, 0, 0.25, 0.5, 0.9, 1, 2.5, 3.5, 100, NAN};
    static const double sv2[NS] = {1, -3, 0.5, 2, -0.0, 4, -1, 0.3, 0, -2.5, 1.5, 7, 2};
    expr_schema *s = expr_schema_new();
    expr_schema_add(s, "v", EXPR_FLAT, NULL);
    expr_schema_add(s, "w", EXPR_FLAT, NULL);
    expr_column c[2] = {{"v", EXPR_FLAT, NULL, sv}, {"w", EXPR_FLAT, NULL, sv2}};
    expr_ws *ws = expr_ws_new(), *ws2 = expr_ws_new();
    char text[64];
    int bad = 0;
    for (size_t f = 0; f < sizeof un / sizeof un[0] && !bad; f++) {
        snprintf(text, sizeof text, "%s(v)", un[f].name);
        expr *x = NULL;
        mlhep_err e = {0};
        expr_column r;
        if (expr_compile(text, s, NULL, &x, &e) || expr_eval(x, c, 2, NS, ws, &r, &e)) {
            printf("  %s: %s\n", text, e.msg);
            bad = 1;
        }
        for (int i = 0; i < NS && !bad; i++) {
            double want = un[f].f(sv[i]);
            if (!same(r.values[i], want) || signbit(r.values[i]) != signbit(want)) {
                printf("  %s at v=%g: got %.17g want %.17g\n", text, sv[i], r.values[i], want);
                bad = 1;
            }
            /* constant-folded path too */
            char t2[96];
            snprintf(t2, sizeof t2, "%s(%.17g)", un[f].name, sv[i]);
            if (isnan(sv[i]))
                continue;
            expr *y = NULL;
            expr_column r2;
            if (expr_compile(t2, s, NULL, &y, &e) || expr_eval(y, c, 2, NS, ws2, &r2, &e)) {
                printf("  %s: %s\n", t2, e.msg);
                bad = 1;
            } else if (!same(r2.values[0], want) && !(sv[i] == 0 && same(r2.values[0], un[f].f(-sv[i])))) {
                /* "-0" prints as -0 and re-parses as -(0): only the sign of zero may differ */
                printf("  %s folded: got %.17g want %.17g\n", t2, r2.values[0], want);
                bad = 1;
            }
            expr_free(y);
        }
        expr_free(x);
    }
    for (size_t f = 0; f < sizeof bin / sizeof bin[0] && !bad; f++) {
        snprintf(text, sizeof text, "%s(v, w)", bin[f].name);
        expr *x = NULL;
        mlhep_err e = {0};
        expr_column r;
        if (expr_compile(text, s, NULL, &x, &e) || expr_eval(x, c, 2, NS, ws, &r, &e)) {
            printf("  %s: %s\n", text, e.msg);
            bad = 1;
        }
        for (int i = 0; i < NS && !bad; i++) {
            double want = bin[f].f(sv[i], sv2[i]);
            if (!same(r.values[i], want)) {
                printf("  %s at (%g, %g): got %.17g want %.17g\n", text, sv[i], sv2[i],
                       r.values[i], want);
                bad = 1;
            }
        }
        expr_free(x);
    }
    expr_ws_free(ws);
    expr_ws_free(ws2);
    expr_schema_free(s);
    CHECK(!bad);
    /* where, and round = half to even like numpy */
    CHECK_FLAT4("where(x > 1, y, -y)", 1, -2, -3, 4);
    CHECK_FLAT4("where(x, 1, 0)", 1, 1, 0, 1);
    CHECK_FLAT4("where(True, x, y)", 3, -1.5, 0, 16);
    CHECK_CONST("round(2.5) + round(3.5) * 10 + round(-0.5) * 100", 2 + 40);
}

/* Expected jagged result: values over the 6 elements of J's layout. */
#define CHECK_JAG4(text, ...)                                                              \
    do {                                                                                   \
        expr_column r_;                                                                    \
        mlhep_err e_ = {0};                                                                \
        int rc_ = run4(text, &r_, &e_);                                                    \
        CHECKF(rc_ == 0, "%s: %s", text, e_.msg);                                          \
        CHECKF(r_.kind == EXPR_JAGGED, "%s: not jagged", text);                            \
        for (int i_ = 0; i_ <= N4; i_++)                                                   \
            CHECK_EQ_INT(r_.offsets[i_], joff[i_]);                                        \
        const double w_[6] = {__VA_ARGS__};                                                \
        for (int i_ = 0; i_ < 6; i_++)                                                     \
            CHECKF(same(r_.values[i_], w_[i_]), "%s: element %d: got %.17g want %.17g",   \
                   text, i_, r_.values[i_], w_[i_]);                                       \
    } while (0)

TEST(jagged_elementwise_and_broadcast)
{
    /* x = {3, -1.5, 0, 16} broadcast over J = {[1,2], [], [3,4,5], [6]} */
    CHECK_JAG4("J", 1, 2, 3, 4, 5, 6);
    CHECK_JAG4("J + x", 4, 5, 3, 4, 5, 22);
    CHECK_JAG4("x * J", 3, 6, 0, 0, 0, 96);
    CHECK_JAG4("J * K", 10, 40, 90, 160, 250, 360);
    CHECK_JAG4("K / J - x", 7, 7, 10, 10, 10, -6);
    CHECK_JAG4("J > x", 0, 0, 1, 1, 1, 0);
    CHECK_JAG4("-J**2 + 1", 0, -3, -8, -15, -24, -35);
    CHECK_JAG4("where(J > 2, K, x)", 3, 3, 30, 40, 50, 60);
    CHECK_JAG4("where(x > 1, J, 0)", 1, 2, 0, 0, 0, 6);
    CHECK_JAG4("sqrt(J) * 0 + hypot(J, 0)", 1, 2, 3, 4, 5, 6);
    CHECK_JAG4("J + sum(K)", 31, 32, 123, 124, 125, 66);
    CHECK_JAG4("J - count(J)", -1, 0, 0, 1, 2, 5);
    CHECK_JAG4("1 <= J <= 3", 1, 1, 1, 0, 0, 0);
    CHECK_JAG4("J > 2 and K < 60", 0, 0, 1, 1, 1, 0);
    CHECK_JAG4("max(J, 3)", 3, 3, 3, 4, 5, 6);
    CHECK_JAG4("J + 0 * y", 1, 2, 3, 4, 5, 6);
}

TEST(reductions_and_empty_lists)
{
    /* J = {[1,2], [], [3,4,5], [6]} */
    CHECK_FLAT4("sum(J)", 3, 0, 12, 6);
    CHECK_FLAT4("prod(J)", 2, 1, 60, 6);
    CHECK_FLAT4("count(J)", 2, 0, 3, 1);
    CHECK_FLAT4("count_nonzero(J > 2)", 0, 0, 3, 1);
    CHECK_FLAT4("any(J > 4)", 0, 0, 1, 1);
    CHECK_FLAT4("all(J > 2)", 0, 1, 1, 1);
    CHECK_FLAT4("mean(J)", 1.5, NAN, 4, 6);
    CHECK_FLAT4("min(J)", 1, NAN, 3, 6);
    CHECK_FLAT4("max(K)", 20, NAN, 50, 60);
    CHECK_FLAT4("min(J) > 0", 1, 0, 1, 1); /* NaN fails a cut */
    CHECK_FLAT4("sum(J * K) / sum(K)", 50.0 / 30, NAN, 500.0 / 120, 6);
    CHECK_FLAT4("sum(J > x)", 0, 0, 3, 0);
    CHECK_FLAT4("any(J > 30 and abs(K) < 25)", 0, 0, 0, 0);
    CHECK_FLAT4("sum(M) + count(J)", 3, 1, 9, 7);
    CHECK_FLAT4("any(J == 2) or all(K > 100)", 1, 1, 0, 0);
}

TEST(length_mismatch_is_a_runtime_error)
{
    expr_column r;
    mlhep_err e = {0};
    int rc = run4("J + M", &r, &e);
    CHECK_EQ_INT(rc, MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "'J'") && strstr(e.msg, "'M'") && strstr(e.msg, "event 0"), "%s", e.msg);
    CHECKF(strstr(e.msg, "(2 vs 1)"), "%s", e.msg);
    rc = run4("sum(where(M > 0, J, K))", &r, &e);
    CHECK_EQ_INT(rc, MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "'J'") && strstr(e.msg, "'M'"), "%s", e.msg);
    /* same lengths under different names is fine */
    CHECK_EQ_INT(run4("J + K", &r, &e), 0);
}

static void expect_err(const char *text, int code, int column, const char *what, int *bad)
{
    expr_schema *s = schema4();
    expr *x = NULL;
    mlhep_err e = {0};
    int rc = expr_compile(text, s, NULL, &x, &e);
    expr_schema_free(s);
    char col[32];
    snprintf(col, sizeof col, "column %d: ", column);
    if (rc != code || x || !strstr(e.msg, col) || !strstr(e.msg, what)) {
        printf("  '%s': rc %d (want %d), msg: %s (want '%s%s')\n", text, rc, code, e.msg, col, what);
        *bad = 1;
    }
    expr_free(x);
}

TEST(compile_errors_with_column)
{
    int bad = 0;
    /* the exact message from the brief */
    {
        expr_schema *s = schema4();
        expr_schema_add(s, "Jet_pt", EXPR_JAGGED, NULL);
        expr *x = NULL;
        mlhep_err e = {0};
        CHECK_EQ_INT(expr_compile("Jet_pt > 30 and", s, NULL, &x, &e), MLHEP_EINVAL);
        CHECKF(strcmp(e.msg, "expression 'Jet_pt > 30 and': column 16: expected an operand") == 0,
               "%s", e.msg);
        expr_schema_free(s);
    }
    expect_err("x > 30 and", MLHEP_EINVAL, 11, "expected an operand", &bad);
    expect_err("x + * y", MLHEP_EINVAL, 5, "expected an operand, got '*'", &bad);
    expect_err("Jet_ptt + 1", MLHEP_EINVAL, 1, "unknown branch 'Jet_ptt'", &bad);
    expect_err("x + foo(y)", MLHEP_EINVAL, 5, "unknown function 'foo'", &bad);
    expect_err("sqrt(x, y)", MLHEP_EINVAL, 1, "takes 1 argument, got 2", &bad);
    expect_err("1 + arctan2(x)", MLHEP_EINVAL, 5, "takes 2 arguments, got 1", &bad);
    expect_err("where(x, y)", MLHEP_EINVAL, 1, "takes 3 arguments, got 2", &bad);
    expect_err("sqrt()", MLHEP_EINVAL, 1, "takes 1 argument, got 0", &bad);
    expect_err("min(x, y, J)", MLHEP_EINVAL, 1, "takes 1 argument", &bad);
    expect_err("x + sum(y)", MLHEP_EINVAL, 9, "sum() reduces a jagged value", &bad);
    expect_err("max(x)", MLHEP_EINVAL, 5, "max() reduces a jagged value", &bad);
    expect_err("(x + 1", MLHEP_EINVAL, 7, "expected ')' to close '(' at column 1", &bad);
    expect_err("sqrt(x", MLHEP_EINVAL, 7, "expected ',' or ')'", &bad);
    expect_err("x + 1)", MLHEP_EINVAL, 6, "unexpected ')'", &bad);
    expect_err("x y", MLHEP_EINVAL, 3, "unexpected 'y'", &bad);
    expect_err("x = 1", MLHEP_EINVAL, 3, "use '=='", &bad);
    expect_err("x $ 1", MLHEP_EINVAL, 3, "unexpected character '$'", &bad);
    expect_err("x + \x01", MLHEP_EINVAL, 5, "unexpected byte 0x01", &bad);
    expect_err("1.2.3", MLHEP_EINVAL, 1, "invalid number", &bad);
    expect_err("x + 1e", MLHEP_EINVAL, 5, "invalid number", &bad);
    expect_err("2abc", MLHEP_EINVAL, 1, "invalid number", &bad);
    expect_err("x < 1e999", MLHEP_EINVAL, 5, "too large", &bad);
    expect_err("", MLHEP_EINVAL, 1, "empty expression", &bad);
    expect_err("   ", MLHEP_EINVAL, 1, "empty expression", &bad);
    expect_err("not", MLHEP_EINVAL, 4, "expected an operand", &bad);
    expect_err("x < ", MLHEP_EINVAL, 5, "expected an operand", &bad);
    expect_err("f(", MLHEP_EINVAL, 1, "unknown function 'f'", &bad);
    expect_err("sum(J", MLHEP_EINVAL, 6, "expected ',' or ')'", &bad);
    expect_err("abs(,)", MLHEP_EINVAL, 5, "expected an operand, got ','", &bad);
    CHECK(!bad);
}

TEST(result_kind_requirements)
{
    expr_schema *s = schema4();
    expr *x = NULL;
    mlhep_err e = {0};
    expr_opts flat = {.want = EXPR_WANT_FLAT};
    CHECK_EQ_INT(expr_compile("J > 30", s, &flat, &x, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "column 1: the result is jagged") && strstr(e.msg, "any()"), "%s", e.msg);
    CHECK_EQ_INT(expr_compile("any(J > 30)", s, &flat, &x, &e), 0);
    CHECK(expr_result_kind(x) == EXPR_FLAT && expr_result_is_bool(x));
    expr_free(x);
    expr_opts jag = {.want = EXPR_WANT_JAGGED};
    CHECK_EQ_INT(expr_compile("x * 2", s, &jag, &x, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "column 1: the result is flat"), "%s", e.msg);
    expr_opts cut = {.want = EXPR_WANT_FLAT, .reduce = EXPR_REDUCE_ALL};
    CHECK_EQ_INT(expr_compile("x > 1", s, &cut, &x, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "jagged cut") && strstr(e.msg, "\"all\""), "%s", e.msg);
    CHECK_EQ_INT(expr_compile("J > 2", s, &cut, &x, &e), 0);
    expr_ws *ws = expr_ws_new();
    expr_column r;
    CHECK_EQ_INT(expr_eval(x, cols4, 6, N4, ws, &r, &e), 0);
    CHECK(r.kind == EXPR_FLAT && r.values[0] == 0 && r.values[1] == 1 && r.values[2] == 1 &&
          r.values[3] == 1);
    expr_free(x);
    cut.reduce = EXPR_REDUCE_ANY;
    CHECK_EQ_INT(expr_compile("J > 4", s, &cut, &x, &e), 0);
    CHECK_EQ_INT(expr_eval(x, cols4, 6, N4, ws, &r, &e), 0);
    CHECK(r.values[0] == 0 && r.values[1] == 0 && r.values[2] == 1 && r.values[3] == 1);
    /* inputs in order of first appearance, each once */
    expr_free(x);
    CHECK_EQ_INT(expr_compile("sum(K) + x * sum(J) + x", s, NULL, &x, &e), 0);
    CHECK_EQ_INT(expr_ninputs(x), 3);
    CHECK(strcmp(expr_input_name(x, 0), "K") == 0 && expr_input_kind(x, 0) == EXPR_JAGGED);
    CHECK(strcmp(expr_input_name(x, 1), "x") == 0 && expr_input_kind(x, 1) == EXPR_FLAT);
    CHECK(strcmp(expr_input_name(x, 2), "J") == 0);
    CHECK(expr_input_name(x, 3) == NULL);
    expr_free(x);
    /* constant folding leaves one fill */
    CHECK_EQ_INT(expr_compile("sqrt(16) * 2 ** 3 - 1", s, NULL, &x, &e), 0);
    CHECK_EQ_INT(expr_nops(x), 1);
    expr_free(x);
    expr_ws_free(ws);
    expr_schema_free(s);
}

TEST(eval_errors)
{
    expr_schema *s = schema4();
    expr *x = NULL;
    mlhep_err e = {0};
    CHECK_EQ_INT(expr_compile("sum(J) + x", s, NULL, &x, &e), 0);
    expr_ws *ws = expr_ws_new();
    expr_column r;
    /* missing column */
    CHECK_EQ_INT(expr_eval(x, cols4 + 2, 1, N4, ws, &r, &e), MLHEP_ENOTFOUND);
    CHECKF(strstr(e.msg, "branch 'x' is not in the chunk"), "%s", e.msg);
    /* wrong kind */
    expr_column c[2] = {{"J", EXPR_FLAT, NULL, jv}, {"x", EXPR_FLAT, NULL, xv}};
    CHECK_EQ_INT(expr_eval(x, c, 2, N4, ws, &r, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "declared jagged"), "%s", e.msg);
    /* corrupt offsets */
    static const int64_t bad1[N4 + 1] = {1, 2, 3, 4, 5}, bad2[N4 + 1] = {0, 2, 1, 4, 5};
    c[0] = (expr_column){"J", EXPR_JAGGED, bad1, jv};
    CHECK_EQ_INT(expr_eval(x, c, 2, N4, ws, &r, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "start at 0"), "%s", e.msg);
    c[0].offsets = bad2;
    CHECK_EQ_INT(expr_eval(x, c, 2, N4, ws, &r, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "decrease"), "%s", e.msg);
    /* zero events */
    static const int64_t zoff[1] = {0};
    c[0].offsets = zoff;
    CHECK_EQ_INT(expr_eval(x, c, 2, 0, ws, &r, &e), 0);
    expr_free(x);
    expr_ws_free(ws);
    expr_schema_free(s);
}

static char *repeat(const char *a, int n, const char *mid, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *t = malloc(la * n + lm + lb * n + 1), *p = t;
    for (int i = 0; i < n; i++, p += la)
        memcpy(p, a, la);
    memcpy(p, mid, lm);
    p += lm;
    for (int i = 0; i < n; i++, p += lb)
        memcpy(p, b, lb);
    *p = 0;
    return t;
}

TEST(limits)
{
    expr_schema *s = schema4();
    expr *x = NULL;
    mlhep_err e = {0};
    char *t = repeat("(", 50, "x", ")");
    CHECKF(expr_compile(t, s, NULL, &x, &e) == 0, "%s", e.msg);
    expr_free(x);
    x = NULL;
    free(t);
    t = repeat("(", 100000, "x", ")");
    CHECK_EQ_INT(expr_compile(t, s, NULL, &x, &e), MLHEP_ENOMEM); /* longer than the limit */
    free(t);
    t = repeat("(", 5000, "x", ")");
    CHECK_EQ_INT(expr_compile(t, s, NULL, &x, &e), MLHEP_ENOMEM);
    CHECKF(strstr(e.msg, "nesting deeper than 100"), "%s", e.msg);
    CHECK(strlen(e.msg) < 400); /* the echo of the text is truncated */
    free(t);
    t = repeat("-", 5000, "x", "");
    CHECK_EQ_INT(expr_compile(t, s, NULL, &x, &e), MLHEP_ENOMEM);
    free(t);
    t = repeat("not ", 5000, "x", "");
    CHECK_EQ_INT(expr_compile(t, s, NULL, &x, &e), MLHEP_ENOMEM);
    free(t);
    t = repeat("sqrt(", 500, "x", ")");
    CHECK_EQ_INT(expr_compile(t, s, NULL, &x, &e), MLHEP_ENOMEM);
    free(t);
    t = repeat("2**", 5000, "x", "");
    CHECK_EQ_INT(expr_compile(t, s, NULL, &x, &e), MLHEP_ENOMEM);
    free(t);
    t = repeat("x+", 5000, "x", ""); /* flat, long: tree depth */
    CHECK_EQ_INT(expr_compile(t, s, NULL, &x, &e), MLHEP_ENOMEM);
    CHECKF(strstr(e.msg, "deeper than 256"), "%s", e.msg);
    free(t);
    { /* many nodes in a shallow tree: 60 groups of 100 terms */
        char *g = repeat("x+", 99, "x", "");
        size_t lg = strlen(g);
        t = malloc(60 * (lg + 3) + 1);
        char *q = t;
        for (int i = 0; i < 60; i++)
            q += sprintf(q, "%s(%s)", i ? "+" : "", g);
        free(g);
        CHECK_EQ_INT(expr_compile(t, s, NULL, &x, &e), MLHEP_ENOMEM);
        CHECKF(strstr(e.msg, "more than 4096 nodes"), "%s", e.msg);
        free(t);
    }
    t = repeat("x+", 200, "x", "");
    CHECKF(expr_compile(t, s, NULL, &x, &e) == 0, "%s", e.msg);
    expr_ws *ws = expr_ws_new();
    expr_column r;
    CHECK_EQ_INT(expr_eval(x, cols4, 6, N4, ws, &r, &e), 0);
    CHECK(r.values[0] == 201 * 3.0 && r.values[3] == 201 * 16.0);
    expr_free(x);
    x = NULL;
    free(t);
    /* huge but finite literal; long literal; denormal */
    t = repeat("1", 300, "", "");
    CHECKF(expr_compile(t, s, NULL, &x, &e) == 0, "%s", e.msg);
    expr_free(x);
    free(t);
    CHECK_EQ_INT(expr_compile("1.7e308 * 10", s, NULL, &x, &e), 0); /* inf by arithmetic is fine */
    CHECK_EQ_INT(expr_eval(x, cols4, 6, N4, ws, &r, &e), 0);
    CHECK(isinf(r.values[0]));
    expr_free(x);
    CHECK_EQ_INT(expr_compile("4.9e-324 > 0", s, NULL, &x, &e), 0);
    expr_free(x);
    /* a name longer than the limit */
    t = repeat("a", EXPR_MAX_NAME + 1, "", "");
    CHECK_EQ_INT(expr_compile(t, s, NULL, &x, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "name longer"), "%s", e.msg);
    free(t);
    expr_ws_free(ws);
    expr_schema_free(s);
}

/* Random chunk larger than several evaluation blocks, with empty events, compared
 * with plain C loops. */
static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

TEST(blockwise_matches_plain_loops)
{
    enum { NE = 9001 };
    int64_t *off = malloc((NE + 1) * sizeof *off);
    off[0] = 0;
    for (int i = 0; i < NE; i++)
        off[i + 1] = off[i] + (int64_t)(urand() * 7 * (i % 1000 < 500 ? 1 : 0.2));
    size_t ne = (size_t)off[NE];
    double *pt = malloc(ne * sizeof *pt), *eta = malloc(ne * sizeof *eta);
    double *px = malloc(NE * sizeof *px), *py = malloc(NE * sizeof *py);
    for (size_t j = 0; j < ne; j++) {
        pt[j] = urand() * 100;
        eta[j] = urand() * 6 - 3;
    }
    for (int i = 0; i < NE; i++) {
        px[i] = urand() * 50 - 25;
        py[i] = urand() * 50 - 25;
    }
    expr_schema *s = expr_schema_new();
    expr_schema_add(s, "Jet_pt", EXPR_JAGGED, NULL);
    expr_schema_add(s, "Jet_eta", EXPR_JAGGED, NULL);
    expr_schema_add(s, "MET_px", EXPR_FLAT, NULL);
    expr_schema_add(s, "MET_py", EXPR_FLAT, NULL);
    /* Jet_eta gets its own (equal) offsets array to exercise the length check */
    int64_t *off2 = malloc((NE + 1) * sizeof *off2);
    memcpy(off2, off, (NE + 1) * sizeof *off);
    expr_column c[4] = {{"Jet_pt", EXPR_JAGGED, off, pt}, {"Jet_eta", EXPR_JAGGED, off2, eta},
                        {"MET_px", EXPR_FLAT, NULL, px}, {"MET_py", EXPR_FLAT, NULL, py}};
    expr_ws *ws = expr_ws_new();
    mlhep_err e = {0};
    expr_column r;
    expr *x = NULL;
    int bad = 0;

    CHECK_EQ_INT(expr_compile("sqrt(MET_px**2+MET_py**2)", s, NULL, &x, &e), 0);
    CHECK_EQ_INT(expr_eval(x, c, 4, NE, ws, &r, &e), 0);
    for (int i = 0; i < NE && !bad; i++)
        bad = !same(r.values[i], sqrt(px[i] * px[i] + py[i] * py[i]));
    expr_free(x);
    CHECK(!bad);

    CHECK_EQ_INT(expr_compile("any(Jet_pt > 30 and abs(Jet_eta) < 2.4)", s, NULL, &x, &e), 0);
    CHECK_EQ_INT(expr_eval(x, c, 4, NE, ws, &r, &e), 0);
    for (int i = 0; i < NE && !bad; i++) {
        int a = 0;
        for (int64_t j = off[i]; j < off[i + 1]; j++)
            a |= pt[j] > 30 && fabs(eta[j]) < 2.4;
        bad = r.values[i] != a;
    }
    expr_free(x);
    CHECK(!bad);

    /* many registers, broadcast, where, sharing, reductions mixed */
    const char *t = "where(Jet_pt > MET_px + 25, Jet_pt * cos(Jet_eta), -Jet_pt) + "
                    "sum(Jet_pt) / (1 + count(Jet_eta)) - (0 < Jet_eta * 2 < MET_py)";
    CHECK_EQ_INT(expr_compile(t, s, NULL, &x, &e), 0);
    CHECK_EQ_INT(expr_eval(x, c, 4, NE, ws, &r, &e), 0);
    CHECK(r.kind == EXPR_JAGGED);
    for (int i = 0; i < NE && !bad; i++) {
        double sum = 0;
        for (int64_t j = off[i]; j < off[i + 1]; j++)
            sum += pt[j];
        double cnt = (double)(off[i + 1] - off[i]);
        bad |= r.offsets[i] != off[i];
        for (int64_t j = off[i]; j < off[i + 1] && !bad; j++) {
            double w = (pt[j] > px[i] + 25 ? pt[j] * cos(eta[j]) : -pt[j]) + sum / (1 + cnt) -
                       (0 < eta[j] * 2 && eta[j] * 2 < py[i]);
            if (!same(r.values[j], w)) {
                printf("  event %d element %lld: got %.17g want %.17g\n", i, (long long)j,
                       r.values[j], w);
                bad = 1;
            }
        }
    }
    CHECK(!bad);
    /* the same program again on a smaller chunk with the same workspace (reuse) */
    CHECK_EQ_INT(expr_eval(x, c, 4, 10, ws, &r, &e), 0);
    CHECK(r.offsets[10] == off[10]);
    expr_free(x);

    /* a mismatch deep in the chunk is found and located */
    int at = 5000;
    while (off2[at + 1] == off2[at])
        at++;
    off2[at] += 1; /* event at-1 one longer, event at one shorter */
    char want[32];
    snprintf(want, sizeof want, "event %d ", at - 1);
    CHECK_EQ_INT(expr_compile("Jet_pt * Jet_eta", s, NULL, &x, &e), 0);
    CHECK_EQ_INT(expr_eval(x, c, 4, NE, ws, &r, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, want), "%s", e.msg);
    expr_free(x);

    expr_ws_free(ws);
    expr_schema_free(s);
    free(off);
    free(off2);
    free(pt);
    free(eta);
    free(px);
    free(py);
}

TEST(schema)
{
    expr_schema *s = expr_schema_new();
    mlhep_err e = {0};
    CHECK_EQ_INT(expr_schema_add(s, "a", EXPR_FLAT, &e), 0);
    CHECK_EQ_INT(expr_schema_add(s, "a", EXPR_JAGGED, &e), MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "'a' is defined twice"), "%s", e.msg);
    CHECK_EQ_INT(expr_schema_add(s, "", EXPR_FLAT, &e), MLHEP_EINVAL);
    CHECK_EQ_INT(expr_schema_add(s, "b.c", EXPR_JAGGED, &e), 0);
    CHECK_EQ_INT(expr_schema_find(s, "b.cd", 3), 1);
    CHECK_EQ_INT(expr_schema_find(s, "b", 1), -1);
    expr_schema *c = expr_schema_clone(s);
    CHECK_EQ_INT(expr_schema_count(c), 2);
    CHECK(expr_schema_kind(c, 1) == EXPR_JAGGED && strcmp(expr_schema_name(c, 1), "b.c") == 0);
    expr *x = NULL;
    CHECK_EQ_INT(expr_compile("sum(b.c) + a", c, NULL, &x, &e), 0);
    expr_free(x);
    expr_schema_free(c);
    expr_schema_free(s);
}

int main(void)
{
    RUN(precedence_and_associativity);
    RUN(chained_comparisons);
    RUN(functions_match_libm);
    RUN(jagged_elementwise_and_broadcast);
    RUN(reductions_and_empty_lists);
    RUN(length_mismatch_is_a_runtime_error);
    RUN(compile_errors_with_column);
    RUN(result_kind_requirements);
    RUN(eval_errors);
    RUN(limits);
    RUN(blockwise_matches_plain_loops);
    RUN(schema);
    expr_ws_free(g_ws);
    return test_summary();
}
