/* test_suggest.c - "did you mean" (base/suggest.h): the closest name, or none. */
#include "base/suggest.h"
#include "test.h"

static const char *const branches[] = {"NJet", "Jet_Px", "Jet_Py", "MET_px", "MET_py", "Muon_Px", NULL, "events"};
#define NB (sizeof branches / sizeof branches[0])

static int is(const char *got, const char *want)
{
    return got && want ? strcmp(got, want) == 0 : got == want;
}

TEST(typos)
{
    CHECK(is(suggest_closest("NJett", branches, NB), "NJet"));     /* insertion */
    CHECK(is(suggest_closest("Jet_pt", branches, NB), "Jet_Px"));  /* substitution, case-insensitive */
    CHECK(is(suggest_closest("MTE_px", branches, NB), "MET_px"));  /* transposition */
    CHECK(is(suggest_closest("Muon", branches, NB), "Muon_Px"));   /* a prefix of four or more */
}

TEST(case_only_difference_wins)
{
    /* a lookup is case-sensitive: "Events" is a typo of "events", distance 0 */
    CHECK(suggest_distance("Events", "events") == 0);
    CHECK(is(suggest_closest("Events", branches, NB), "events"));
    CHECK(is(suggest_closest("njet", branches, NB), "NJet"));
}

TEST(nothing_close)
{
    CHECK(is(suggest_closest("Electron_pt", branches, NB), NULL));
    CHECK(is(suggest_closest("", branches, NB), NULL));
    CHECK(is(suggest_closest("x", branches, NB), NULL));
    /* the word itself is never its own suggestion */
    const char *one[] = {"NJet"};
    CHECK(is(suggest_closest("NJet", one, 1), NULL));
}

int main(void)
{
    RUN(typos);
    RUN(case_only_difference_wins);
    RUN(nothing_close);
    return test_summary();
}
