/* sas_sign: prints a service SAS query string signed by azure/sas.c, so the
 * integration tests can try it against Azurite (accepted as signed; refused
 * when tampered with, expired or used beyond its permissions).
 *   sas_sign ACCOUNT KEY_BASE64 CONTAINER BLOB|- PERMISSIONS START EXPIRY [http]
 * START and EXPIRY are Unix times (START 0: none). A test tool, not shipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "buffer.h"
#include "sas.h"

int main(int argc, char **argv)
{
    if (argc < 8 || argc > 9) {
        fprintf(stderr, "usage: sas_sign ACCOUNT KEY_BASE64 CONTAINER BLOB|- PERMISSIONS START "
                        "EXPIRY [http]\n");
        return 2;
    }
    uint8_t key[128];
    size_t key_len;
    if (!base64_decode(argv[2], strlen(argv[2]), key, sizeof(key), &key_len)) {
        fprintf(stderr, "sas_sign: the key is not base64\n");
        return 2;
    }
    sas_grant grant = {
        .account = argv[1],
        .key = key,
        .key_len = key_len,
        .container = argv[3],
        .blob = strcmp(argv[4], "-") == 0 ? NULL : argv[4],
        .permissions = argv[5],
        .start = (time_t)strtoll(argv[6], NULL, 10),
        .expiry = (time_t)strtoll(argv[7], NULL, 10),
        .allow_http = argc == 9 && strcmp(argv[8], "http") == 0,
    };
    buffer query;
    buffer_init(&query, 0);
    if (!sas_query_string(&grant, &query)) {
        fprintf(stderr, "sas_sign: cannot sign (permissions must be in the order racwdxltmeop)\n");
        return 1;
    }
    puts(buffer_cstr(&query));
    buffer_free(&query);
    return 0;
}
