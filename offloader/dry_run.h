/* --dry-run: prints the requests the offloader would send for a plan,
 * secrets redacted, and sends none. */
#ifndef DRY_RUN_H
#define DRY_RUN_H

#include <stdio.h>

#include "job_plan.h"

void dry_run_print(const job_plan *plan, FILE *out);

#endif
