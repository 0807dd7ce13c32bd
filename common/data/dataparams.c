/* dataparams.c - the data layer's parameters: normalisation names and formulas, padding;
 * see dataparams.h. */
#include "data/dataparams.h"

#include <math.h>
#include <string.h>

static const char *const norm_names[DP_NORM_COUNT] = {"minmax", "standard"};

const char *dp_norm_name(dp_norm n)
{
    return (unsigned)n < DP_NORM_COUNT ? norm_names[n] : "?";
}

int dp_norm_parse(const char *s, dp_norm *out)
{
    for (int i = 0; s && i < DP_NORM_COUNT; i++)
        if (!strcmp(s, norm_names[i])) {
            *out = (dp_norm)i;
            return 0;
        }
    return -1;
}

void dp_norm_coeffs(dp_norm n, double min, double max, double mean, double std, double *sub,
                    double *scale)
{
    if (n == DP_NORM_STANDARD) {
        *sub = mean;
        *scale = std > 0 ? 1.0 / std : 1.0;
    } else {
        *sub = max > min ? min : 0.0;
        *scale = max > min ? 1.0 / (max - min) : 1.0;
    }
}

float dp_pad(double nan_value)
{
    return isfinite(nan_value) ? (float)nan_value : 0.0f;
}

static const char *const negw_names[DP_NEGW_COUNT] = {"zero", "abs"};

const char *dp_negw_name(dp_negw p)
{
    return (unsigned)p < DP_NEGW_COUNT ? negw_names[p] : "?";
}

int dp_negw_parse(const char *s, dp_negw *out)
{
    for (int i = 0; s && i < DP_NEGW_COUNT; i++)
        if (!strcmp(s, negw_names[i])) {
            *out = (dp_negw)i;
            return 0;
        }
    return -1;
}
