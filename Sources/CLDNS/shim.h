// ldns/common.h defines `bool` as `signed char` unless <stdbool.h> came first; include it (and the
// other standard headers ldns expects) before ldns so ldns `bool` imports as Swift Bool.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <ldns/ldns.h>

static inline void cldns_free(void *p) { free(p); }
