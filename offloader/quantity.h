/* Kubernetes resource quantities ("500m", "2", "1.5Gi", "129e6"), read the
 * way resource.Quantity reads them, for CPU and memory limits. */
#ifndef QUANTITY_H
#define QUANTITY_H

#include <stdbool.h>

/* The value as a number: "500m" -> 0.5, "1Ki" -> 1024. False when the text
 * is not a quantity or is negative. */
bool quantity_parse(const char *text, double *value);

#endif
