/* The offloader's whole run, from a validated plan to an exit code: find the
 * Batch job in whichever account holds it, or place it (failing over to a
 * secondary account, or waiting out a quota), add the tasks it lacks, follow
 * it to its end, report, clean up. Cancellation (SIGTERM) at any point
 * terminates the Batch job first. */
#ifndef OFFLOAD_RUN_H
#define OFFLOAD_RUN_H

#include <signal.h>

#include "job_plan.h"
#include "offload_contract.h" /* the exit codes */

/* stop: set by the signal handler; watched throughout. The plan's storage
 * is set up for the account the job lands in. */
int offload_run(job_plan *plan, volatile sig_atomic_t *stop);

#endif
