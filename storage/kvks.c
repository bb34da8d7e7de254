/* kvks.c -- the typed key space (kvks.h). */
#include "storage/kvks.h"
