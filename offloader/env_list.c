/* Environment lists; see env_list.h. */
#include "env_list.h"

#include <stdlib.h>
#include <string.h>

bool env_list_set(env_list *list, const char *name, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return false;
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->items[i].name, name) == 0) {
            free(list->items[i].value);
            list->items[i].value = copy;
            return true;
        }
    }
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        env_var *grown = realloc(list->items, cap * sizeof(env_var));
        if (!grown) {
            free(copy);
            return false;
        }
        list->items = grown;
        list->cap = cap;
    }
    list->items[list->count].name = strdup(name);
    list->items[list->count].value = copy;
    if (!list->items[list->count].name) {
        free(copy);
        return false;
    }
    list->count++;
    return true;
}

const char *env_list_get(const env_list *list, const char *name)
{
    return env_list_get_n(list, name, strlen(name));
}

const char *env_list_get_n(const env_list *list, const char *name, size_t name_len)
{
    for (size_t i = 0; i < list->count; i++)
        if (strncmp(list->items[i].name, name, name_len) == 0 &&
            list->items[i].name[name_len] == '\0')
            return list->items[i].value;
    return list->fallback ? env_list_get_n(list->fallback, name, name_len) : NULL;
}

void env_list_free(env_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].value);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}
