#include "lc_internal.h"
void lc_gen_defaults(lc_gen_options *o)
{
    (void)o;
}
int lc_gen(const lc_gen_options *o, FILE *out)
{
    (void)o;
    (void)out;
    return -1;
}
