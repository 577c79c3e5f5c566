/* Helpers shared by the cmocka unit tests: reading fixtures and looking into
 * JSON documents the code under test produced. Header-only: each test is
 * one program. */
#ifndef TEST_SUPPORT_H
#define TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_reader.h"

/* Reads a file relative to the repository root (tests run from there). */
static inline char *read_fixture(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture %s (run tests from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return data;
}

/* Parses text that must be valid JSON. */
static inline void parse_or_fail(json_document *doc, const char *text, size_t len)
{
    char error[256];
    if (!json_document_parse(doc, text, len, 1 << 20, error, sizeof(error)))
        fail_msg("not valid JSON: %s: %.200s", error, text);
}

/* A decoded string member, compared. */
static inline void assert_member_string(const json_document *doc, int object, const char *key,
                                        const char *expected)
{
    int token = json_object_get(doc, object, key);
    char *value = json_string_dup(doc, token);
    if (!value)
        fail_msg("member %s is missing or not a string", key);
    if (strcmp(value, expected) != 0)
        fail_msg("member %s is \"%s\", expected \"%s\"", key, value, expected);
    free(value);
}

/* A made-up Batch key (32 bytes, base64): never a real one in a fixture. */
#define TEST_BATCH_KEY "YmF0Y2gtb2ZmbG9hZC11bml0LXRlc3Qta2V5LTMyYnk="

/* A valid Shared Key configuration of the offloader and nothing else in the
 * environment: ten workers of one image. */
static inline void set_minimal_offloader_environment(void)
{
    clearenv();
    setenv("BATCHCONNECTIONSTRING", "https://acct.westeurope.batch.azure.com/", 1);
    setenv("BATCHNAME", "acct", 1);
    setenv("BATCHPASSWORD", TEST_BATCH_KEY, 1);
    setenv("JOBID", "k8s-0b7d5f4c", 1);
    setenv("WORKERIMAGENAME", "registry.example.com/team/worker:1", 1);
    setenv("COMPLETIONS", "10", 1);
}

#endif
