/* What Azure accepts as names, checked before any request is built so a bad
 * value is reported by name at admission or start-up, not as a 400 from
 * Azure minutes later. Both programs use these. */
#ifndef AZURE_NAMES_H
#define AZURE_NAMES_H

#include <stdbool.h>

/* Batch job, task and pool IDs: 1-64 letters, digits, '-' or '_'. */
bool azure_batch_id_is_valid(const char *id);
/* Blob container names: 3-63 lowercase letters, digits and single hyphens,
 * starting and ending with a letter or digit. */
bool azure_container_name_is_valid(const char *name);
/* A blob name prefix we are willing to build paths under: 1-512 bytes of
 * letters, digits and "-._~/", no leading or trailing '/', no empty or
 * "."/".." segments. */
bool azure_blob_prefix_is_valid(const char *prefix);
/* VM sizes such as Standard_D2s_v3: 1-64 letters, digits or '_'. */
bool azure_vm_size_is_valid(const char *size);
/* Storage account names: 3-24 lowercase letters and digits. */
bool azure_storage_account_is_valid(const char *name);

/* Container image references as Docker and Batch read them:
 * [host[:port]/]path[:tag][@sha256:<64 hex>], at most 512 bytes. */
bool image_reference_is_valid(const char *ref);
/* A Marketplace VM image, publisher:offer:sku:version: four non-empty parts
 * of letters, digits, '-', '_' and '.'. */
bool azure_marketplace_image_is_valid(const char *image);

#endif
