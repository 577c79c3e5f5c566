/* --dry-run: prints the requests the offloader would send for a plan,
 * secrets redacted, and sends none. */
#ifndef DRY_RUN_H
#define DRY_RUN_H

#include <stdio.h>

#include "job_plan.h"

/* Lays out and signs the plan's storage for the primary account first (with
 * its key; with Entra ID a placeholder marks where the SAS go). */
void dry_run_print(job_plan *plan, FILE *out);

#endif
