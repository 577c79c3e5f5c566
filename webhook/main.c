/* offload-webhook: reads its options, loads the serving certificate, serves
 * until SIGTERM, then drains. The main thread only watches signals and the
 * certificate files; worker threads serve (http_server.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "request_router.h"
#include "tls.h"
#include "webhook_config.h"

#define CERT_CHECK_SECONDS 1

static log_level parse_level(const char *name)
{
    if (strcmp(name, "debug") == 0)
        return LOG_DEBUG;
    if (strcmp(name, "warn") == 0)
        return LOG_WARN;
    if (strcmp(name, "error") == 0)
        return LOG_ERROR;
    return LOG_INFO;
}

static void handle_request(void *context, const http_request *request, http_response *response)
{
    webhook_route(context, request, response);
}

static void reload_certificate(tls_server *tls)
{
    char error[512];
    switch (tls_server_reload_if_changed(tls, error, sizeof(error))) {
    case TLS_RELOAD_UNCHANGED:
        break;
    case TLS_RELOAD_DONE:
        metrics_record_cert_reload(CERT_RELOAD_SUCCESS);
        log_info("serving certificate reloaded");
        break;
    case TLS_RELOAD_FAILED:
        metrics_record_cert_reload(CERT_RELOAD_FAILURE);
        log_error("serving certificate reload failed; the previous certificate stays in use",
                  LOG_STR("error", error));
        break;
    }
}

/* Waits for SIGTERM or SIGINT, checking the certificate files every second
 * and at once on SIGHUP. */
static int wait_for_stop(const sigset_t *signals, tls_server *tls)
{
    for (;;) {
        struct timespec timeout = {CERT_CHECK_SECONDS, 0};
        int sig = sigtimedwait(signals, NULL, &timeout);
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            return SIGTERM;
        reload_certificate(tls);
    }
}

int main(int argc, char **argv)
{
    webhook_config config;
    log_configure("offload-webhook", LOG_FORMAT_JSON, LOG_INFO);
    if (!tls_global_init()) {
        fprintf(stderr, "offload-webhook: cannot initialize the TLS library\n");
        return 1;
    }
    switch (webhook_config_load(&config, argc, argv, stdout, stderr)) {
    case CONFIG_RUN:
        break;
    case CONFIG_EXIT_OK:
        webhook_config_free(&config);
        return 0;
    case CONFIG_EXIT_USAGE:
        webhook_config_free(&config);
        return 2;
    }
    log_configure("offload-webhook", LOG_FORMAT_JSON, parse_level(config.log_level));

    /* Signals are taken synchronously by this thread only. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    char error[512];
    int status = 1;
    tls_server *tls = tls_server_open(config.tls_cert, config.tls_key, error, sizeof(error));
    if (!tls) {
        log_error("cannot load the serving certificate", LOG_STR("error", error));
        webhook_config_free(&config);
        return 1;
    }
    platform_settings platform = {
        .offloader_image = config.offloader_image,
        .credentials_secret = config.credentials_secret,
        .default_pool = config.default_pool,
        .allowed_pools = config.allowed_pools,
        .max_completions = config.max_completions,
        .default_storage_container = config.default_storage_container,
        .default_vm_size = config.default_vm_size,
        .allowed_namespaces = config.allowed_namespaces,
        .offloader_service_account = config.offloader_service_account,
        .workload_identity = config.workload_identity,
        .api_access = config.offloader_api_access,
        .offloader_backoff_limit = config.offloader_backoff_limit,
        .offloader_auth = config.offloader_auth,
        .pool_image = config.pool_image,
        .node_agent_sku = config.node_agent_sku,
        .task_slots_per_node = config.task_slots_per_node,
        .node_fill_type = config.node_fill_type,
        .autoscale_formula = config.autoscale_formula,
        .max_nodes = config.max_nodes,
        .spot_fallback = config.spot_fallback,
        .spot_fallback_seconds = config.spot_fallback_seconds,
        .gpu_pool = config.gpu_pool,
        .gpu_vm_size = config.gpu_vm_size,
        .gpu_pool_image = config.gpu_pool_image,
        .gpu_node_agent_sku = config.gpu_node_agent_sku,
        .deny_secret_env = strcmp(config.secret_env, "deny") == 0,
    };
    webhook_context context = {.platform = &platform, .tls_library = tls_backend_version()};
    atomic_init(&context.ready, true);
    http_server_config server_config = {
        .listen = config.listen,
        .threads = (int)config.threads,
        .max_connections = (int)config.max_connections,
        .header_timeout_ms = (int)config.header_timeout * 1000,
        .body_timeout_ms = (int)config.body_timeout * 1000,
        .idle_timeout_ms = (int)config.idle_timeout * 1000,
        .max_header_bytes = HEAD_LIMIT_BYTES,
        .max_body_bytes = (size_t)config.max_body_bytes,
        .max_buffered_bytes = (size_t)config.max_buffered_bytes,
    };
    http_server *server =
        http_server_start(&server_config, tls, handle_request, &context, error, sizeof(error));
    if (!server) {
        log_error("cannot start serving", LOG_STR("error", error));
        goto done;
    }
    unsigned tls_supports = tls_backend_supports();
    log_info("serving", LOG_STR("listen", config.listen), LOG_NUM("port", http_server_port(server)),
             LOG_NUM("threads", config.threads), LOG_STR("tls", tls_backend_version()),
             LOG_STR("tls_read_ahead", tls_supports & TLS_SUPPORTS_READ_AHEAD ? "yes" : "no"),
             LOG_STR("tls_session_cache", tls_supports & TLS_SUPPORTS_SESSION_CACHE ? "yes" : "no"),
             LOG_STR("version", BATCH_OFFLOAD_VERSION));

    int sig = wait_for_stop(&signals, tls);
    atomic_store(&context.ready, false);
    log_info("stopping", LOG_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"),
             LOG_NUM("shutdown_delay_s", config.shutdown_delay),
             LOG_NUM("drain_timeout_s", config.drain_timeout));
    if (config.shutdown_delay > 0) {
        /* Still serving while load balancers notice /readyz is failing. */
        struct timespec delay = {config.shutdown_delay, 0};
        while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {
        }
    }
    http_server_drain_and_free(server, (int)config.drain_timeout * 1000);
    log_info("stopped");
    status = 0;
done:
    tls_server_close(tls);
    tls_thread_cleanup();
    webhook_config_free(&config);
    return status;
}
