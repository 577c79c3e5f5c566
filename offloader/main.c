/* batch-offloader: runs a Kubernetes Job's completions on Azure Batch. In the
 * pod the webhook makes, or by hand with the original sample's variables
 * (--help lists them). Exit codes: 0 succeeded, 1 the work failed, 2 bad
 * configuration, 3 Azure unavailable, 143 stopped by SIGTERM/SIGINT.
 * "batch-offloader gc" deletes the Batch jobs whose Kubernetes Job is gone. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_gc.h"
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
            "usage: batch-offloader [--dry-run]\n"
            "       batch-offloader gc [--retention-hours N] [--dry-run]\n\n"
            "Runs a Kubernetes Job's work on Azure Batch: one Batch job, one worker task per\n"
            "completion (JOB_COMPLETION_INDEX=0..N-1) and an optional aggregator that runs once\n"
            "every worker succeeded. Follows the job to its end; SIGTERM terminates it.\n\n"
            "  --dry-run   print the requests it would send (secrets redacted), send none\n"
            "  --help      this text\n  --version   version and TLS library\n\n"
            "gc (in the cluster, from the chart's CronJob): deletes the Batch jobs batch-offload\n"
            "made whose Kubernetes Job is gone, or recorded its result more than N hours ago\n"
            "(--retention-hours, default " OFFLOAD_STRINGIFY(GC_DEFAULT_RETENTION_HOURS) "); needs only the account's variables;\n"
            "--dry-run says what it would delete. Exits 0, or 3 when Azure or the Kubernetes\n"
            "API could not be asked about a job (that job was left).\n\n"
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

static int unknown_option(const char *option)
{
    char message[128];
    snprintf(message, sizeof(message), "batch-offloader: unknown option \"%.64s\" (see --help)\n",
             option);
    redact_print(stderr, message);
    return OFFLOAD_EXIT_BAD_CONFIGURATION;
}

static bool parse_hours(const char *text, long *hours)
{
    char *end;
    errno = 0;
    long n = text ? strtol(text, &end, 10) : -1;
    if (!text || !(text[0] >= '0' && text[0] <= '9') || errno || *end || n < 1 ||
        n > GC_MAX_RETENTION_HOURS)
        return false;
    *hours = n;
    return true;
}

/* gc's options into options; an exit code when they are wrong, else -1. */
static int parse_gc_options(int argc, char **argv, gc_options *options)
{
    *options = (gc_options){.retention_hours = GC_DEFAULT_RETENTION_HOURS};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            options->dry_run = true;
        } else if (strcmp(argv[i], "--retention-hours") == 0) {
            if (!parse_hours(i + 1 < argc ? argv[++i] : NULL, &options->retention_hours)) {
                fprintf(stderr, "batch-offloader: --retention-hours takes whole hours from 1 "
                                "to " OFFLOAD_STRINGIFY(GC_MAX_RETENTION_HOURS) "\n");
                return OFFLOAD_EXIT_BAD_CONFIGURATION;
            }
        } else {
            return unknown_option(argv[i]);
        }
    }
    return -1;
}

static void catch_stop_signals(void)
{
    struct sigaction stop = {.sa_handler = on_stop_signal};
    sigemptyset(&stop.sa_mask);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int run_gc(const gc_options *options)
{
    offloader_config config;
    buffer errors;
    buffer_init(&errors, 0);
    int code = OFFLOAD_EXIT_BAD_CONFIGURATION;
    if (!offloader_config_load(&config, CONFIG_FOR_GC, &errors)) {
        report_errors(&errors);
        log_error("bad configuration: gc did nothing");
    } else {
        code = batch_gc_run(&config, options, &stop_requested);
    }
    offloader_config_free(&config);
    buffer_free(&errors);
    return code;
}

static int run_work(bool dry_run)
{
    offloader_config config;
    worker_spec spec;
    job_plan plan;
    buffer errors;
    buffer_init(&errors, 0);
    int code = OFFLOAD_EXIT_BAD_CONFIGURATION;
    bool have_spec = false, have_plan = false;
    if (!offloader_config_load(&config, CONFIG_FOR_WORK, &errors) ||
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
    return code;
}

int main(int argc, char **argv)
{
    bool dry_run = false, gc = argc > 1 && strcmp(argv[1], "gc") == 0;
    gc_options gc_settings;
    log_configure("batch-offloader", LOG_FORMAT_TEXT, LOG_INFO);
    log_set_fd(STDOUT_FILENO); /* one stream, in order, for kubectl logs */
    for (int i = 1; !gc && i < argc; i++) {
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
        return unknown_option(argv[i]);
    }
    int refused = gc ? parse_gc_options(argc, argv, &gc_settings) : -1;
    if (refused >= 0)
        return refused;
    if (!tls_global_init() || !http_client_global_init()) {
        log_error("cannot initialize the TLS and HTTP libraries");
        return OFFLOAD_EXIT_AZURE_UNAVAILABLE;
    }
    catch_stop_signals();
    int code = gc ? run_gc(&gc_settings) : run_work(dry_run);
    http_client_global_cleanup();
    tls_thread_cleanup();
    return code;
}
