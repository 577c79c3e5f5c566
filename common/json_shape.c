/* Shape checks; see json_shape.h. The shapes are tables a few levels deep,
 * so the walk recurses once per level of the table, not of the input. The
 * path of a field is a chain of steps on the stack, written out only for
 * the report. */
#include "json_shape.h"

#include <stdlib.h>
#include <string.h>

typedef struct path_step {
    const struct path_step *up;
    const char *name; /* a member listed in a shape */
    int key;          /* or the token of a member name in the document */
    int index;        /* or an array index */
} path_step;

static const char *type_name(json_type type)
{
    switch (type) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_NUMBER:
        return "a number";
    default:
        return "a value";
    }
}

static void append_path(buffer *out, const json_document *doc, const path_step *step)
{
    if (step->up)
        append_path(out, doc, step->up);
    if (step->name || step->key >= 0) {
        char *key = step->name ? NULL : json_string_dup(doc, step->key);
        buffer_appendf(out, "%s%s", step->up ? "." : "", step->name ? step->name : key ? key : "?");
        free(key);
    } else {
        buffer_appendf(out, "[%d]", step->index);
    }
}

static bool mismatch(buffer *problem, const json_document *doc, const path_step *at,
                     const char *what)
{
    append_path(problem, doc, at);
    buffer_append_str(problem, what);
    return false;
}

static bool check_type(const json_document *doc, int value, json_type type, const path_step *at,
                       buffer *problem)
{
    if (type == JSON_NONE || json_type_of(doc, value) == type)
        return true;
    mismatch(problem, doc, at, " must be ");
    buffer_append_str(problem, type_name(type));
    return false;
}

static bool check_members(const json_document *doc, int object, const json_shape *members,
                          const path_step *up, buffer *problem);

/* Every element of an array, or every member value of an object without
 * listed members. */
static bool check_contents(const json_document *doc, int container, const json_shape *shape,
                           const path_step *up, buffer *problem)
{
    bool array = shape->type == JSON_ARRAY;
    json_iterator it = json_iterate(doc, container);
    int item;
    for (int index = 0; json_iterator_next(&it, &item); index++) {
        path_step at = {.up = up, .key = array ? -1 : item, .index = index};
        int value = array ? item : item + 1;
        if (!check_type(doc, value, shape->elements, &at, problem))
            return false;
        if (array && shape->members && !check_members(doc, value, shape->members, &at, problem))
            return false;
    }
    return true;
}

static bool check_members(const json_document *doc, int object, const json_shape *members,
                          const path_step *up, buffer *problem)
{
    for (const json_shape *m = members; m->name; m++) {
        path_step at = {.up = up, .name = m->name, .key = -1};
        int value = json_object_get(doc, object, m->name);
        if (value < 0 || json_type_of(doc, value) == JSON_NULL) {
            if (m->required)
                return mismatch(problem, doc, &at, " is missing");
            continue;
        }
        if (!check_type(doc, value, m->type, &at, problem))
            return false;
        bool ok = true;
        if (m->type == JSON_OBJECT && m->members)
            ok = check_members(doc, value, m->members, &at, problem);
        else if (m->type == JSON_ARRAY || (m->type == JSON_OBJECT && m->elements != JSON_NONE))
            ok = check_contents(doc, value, m, &at, problem);
        if (!ok)
            return false;
    }
    return true;
}

bool json_shape_check(const json_document *doc, int object, const json_shape *members,
                      buffer *problem)
{
    return check_members(doc, object, members, NULL, problem);
}

bool json_text_is_string_array(const char *text)
{
    json_document doc;
    char error[64];
    if (!json_document_parse(&doc, text, strlen(text), JSON_TOKENS_FOR_A_VALUE, error,
                             sizeof(error)))
        return false;
    bool ok = json_type_of(&doc, 0) == JSON_ARRAY;
    json_iterator it = json_iterate(&doc, 0);
    int element;
    while (ok && json_iterator_next(&it, &element)) {
        char *s = json_string_dup(&doc, element); /* NULL for non-strings and "\u0000" */
        ok = s != NULL;
        free(s);
    }
    json_document_free(&doc);
    return ok;
}
