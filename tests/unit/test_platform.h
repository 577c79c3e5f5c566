/* The platform settings the C tests, the fuzzer and the benchmark start
 * from: the webhook's own defaults with an example offloader image. Each
 * adds what it varies (allowed pools, workload identity, auto pool
 * settings) after them in its initializer. */
#ifndef TEST_PLATFORM_H
#define TEST_PLATFORM_H

#include "platform_settings.h"

#define TEST_PLATFORM_DEFAULTS                                                                     \
    .offloader_image = "registry.example.com/batch-offload/offloader:0.1.0",                       \
    .credentials_secret = "batch-offload-credentials", .default_pool = "",                         \
    .max_completions = 10000, .default_storage_container = "batch-offload",                        \
    .default_vm_size = "", .allowed_namespaces = "", .offloader_service_account = "",             \
    .offloader_backoff_limit = 3, .gpu_pool = "", .gpu_vm_size = "", .gpu_pool_image = "",       \
    .gpu_node_agent_sku = ""

#endif
