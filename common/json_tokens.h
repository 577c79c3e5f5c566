/* The jsmn tokens under a json_document, private to the reader: json_reader.c
 * runs jsmn (it defines JSON_TOKENS_WITH_PARSER first, so jsmn's functions
 * are compiled into it, static), json_lookup.c only reads the tokens. Both
 * see the same token layout: parent links on. */
#ifndef JSON_TOKENS_H
#define JSON_TOKENS_H

#define JSMN_PARENT_LINKS
#ifdef JSON_TOKENS_WITH_PARSER
#define JSMN_STRICT
#define JSMN_STATIC
#else
#define JSMN_HEADER
#endif
#include <jsmn.h>

struct json_token {
    jsmntok_t t;
};

#endif
