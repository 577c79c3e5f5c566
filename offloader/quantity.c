/* Kubernetes quantities; see quantity.h. Grammar (apimachinery
 * resource/quantity.go): <signed number><suffix>, suffix one of the binary
 * Ki Mi Gi Ti Pi Ei, the decimal n u m "" k M G T P E, or an exponent
 * e<int> / E<int>. */
#include "quantity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *suffix;
    double factor;
} suffixes[] = {
    {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
    {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0},
    {"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
    {"P", 1e15}, {"E", 1e18}, {"", 1.0},
};

bool quantity_parse(const char *text, double *value)
{
    const char *p = text;
    if (*p == '+')
        p++;
    if (*p == '-')
        return false;
    const char *digits = p;
    int dots = 0;
    while ((*p >= '0' && *p <= '9') || *p == '.')
        dots += *p++ == '.';
    if (p == digits || dots > 1 || (p - digits == 1 && dots == 1))
        return false;
    char *end;
    double number = strtod(digits, &end);
    if (end != p)
        return false;
    if ((*p == 'e' || *p == 'E') && p[1] && strchr("+-0123456789", p[1])) {
        char *exp_end;
        long exponent = strtol(p + 1, &exp_end, 10);
        if (*exp_end || exp_end == p + 1 || exponent > 300 || exponent < -300)
            return false;
        *value = number * pow(10.0, (double)exponent);
        return isfinite(*value);
    }
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(p, suffixes[i].suffix) == 0) {
            *value = number * suffixes[i].factor;
            return isfinite(*value);
        }
    }
    return false;
}
