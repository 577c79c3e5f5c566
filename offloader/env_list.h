/* An ordered list of environment variables (name, value), where a later
 * entry with the same name replaces the earlier one, as in a container. */
#ifndef ENV_LIST_H
#define ENV_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct env_var {
    char *name;
    char *value;
} env_var;

typedef struct env_list {
    env_var *items;
    size_t count;
    size_t cap;
    const struct env_list *fallback; /* consulted for names this list lacks; not owned */
} env_list;

bool env_list_set(env_list *list, const char *name, const char *value);
const char *env_list_get(const env_list *list, const char *name);
/* The same for a name that is the first name_len bytes of a longer text. */
const char *env_list_get_n(const env_list *list, const char *name, size_t name_len);
void env_list_free(env_list *list);

#endif
