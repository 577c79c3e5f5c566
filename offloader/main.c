/* batch-offloader: runs a Kubernetes Job's completions on Azure Batch. In the
 * pod the webhook makes, or by hand with the original sample's variables
 * (--help lists them). Exit codes: 0 succeeded, 1 the work failed, 2 bad
 * configuration, 3 Azure unavailable, 143 stopped by SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dry_run.h"
#include "http_client.h"
#include "job_plan.h"
#include "log.h"
#include "offload_run.h"
#include "offloader_config.h"
#include "redact.h"
#include "tls.h"
#include "worker_spec.h"

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    stop_requested = sig;
}

static void print_help(FILE *out)
{
    buffer variables;
    buffer_init(&variables, 0);
    offloader_config_describe(&variables);
    fprintf(out,
            "usage: batch-offloader [--dry-run]\n\n"
            "Runs a Kubernetes Job's work on Azure Batch: one Batch job, one worker task per\n"
            "completion (JOB_COMPLETION_INDEX=0..N-1) and an optional aggregator that runs once\n"
            "every worker succeeded. Follows the job to its end; SIGTERM terminates it.\n\n"
            "  --dry-run   print the requests it would send (secrets redacted), send none\n"
            "  --help      this text\n  --version   version and TLS library\n\n"
            "environment:\n%s\n"
            "exit codes: 0 every task succeeded, 1 the work failed, 2 bad configuration,\n"
            "3 Azure Batch unreachable or refusing after retries, 143 stopped by a signal.\n",
            buffer_cstr(&variables));
    buffer_free(&variables);
}

/* Prints each configuration problem on its own line. */
static void report_errors(const buffer *errors)
{
    const char *line = buffer_cstr(errors);
    while (*line) {
        size_t len = strcspn(line, "\n");
        char text[1024];
        snprintf(text, sizeof(text), "%.*s", (int)(len < sizeof(text) - 1 ? len : sizeof(text) - 1),
                 line);
        log_error(text);
        line += len + (line[len] == '\n');
    }
}

int main(int argc, char **argv)
{
    bool dry_run = false;
    log_configure("batch-offloader", LOG_FORMAT_TEXT, LOG_INFO);
    log_set_fd(STDOUT_FILENO); /* one stream, in order, for kubectl logs */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            tls_global_init();
            printf("batch-offloader %s (%s, %s)\n", BATCH_OFFLOAD_VERSION, tls_backend_version(),
                   http_client_library_version());
            return 0;
        }
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = true;
            continue;
        }
        char message[128];
        snprintf(message, sizeof(message), "batch-offloader: unknown option \"%.64s\" (see --help)\n",
                 argv[i]);
        redact_print(stderr, message);
        return OFFLOAD_EXIT_BAD_CONFIGURATION;
    }
    if (!tls_global_init() || !http_client_global_init()) {
        log_error("cannot initialize the TLS and HTTP libraries");
        return OFFLOAD_EXIT_AZURE_UNAVAILABLE;
    }
    struct sigaction stop = {.sa_handler = on_stop_signal};
    sigemptyset(&stop.sa_mask);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    offloader_config config;
    worker_spec spec;
    job_plan plan;
    buffer errors;
    buffer_init(&errors, 0);
    int code = OFFLOAD_EXIT_BAD_CONFIGURATION;
    bool have_spec = false, have_plan = false;
    if (!offloader_config_load(&config, &errors) ||
        !(have_spec = worker_spec_read(&spec, config.worker_spec, environ, &errors)) ||
        !(have_plan = job_plan_build(&plan, &config, &spec, environ, &errors))) {
        report_errors(&errors);
        log_error("bad configuration: nothing was sent to Azure Batch");
    } else if (dry_run) {
        dry_run_print(&plan, stdout);
        code = OFFLOAD_EXIT_SUCCEEDED;
    } else {
        code = offload_run(&plan, &stop_requested);
    }
    if (have_plan)
        job_plan_free(&plan);
    if (have_spec)
        worker_spec_free(&spec);
    offloader_config_free(&config);
    buffer_free(&errors);
    http_client_global_cleanup();
    tls_thread_cleanup();
    return code;
}
