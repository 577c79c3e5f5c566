/* The Kubernetes Job's failure and success policy; see job_policy.h.
 *
 * The rules follow the v1.31 Job controller (pkg/controller/job): a Job
 * fails when its failed pods exceed backoffLimit, or, with
 * backoffLimitPerIndex, when more indexes failed than maxFailedIndexes or
 * when every index is done and some failed; it succeeds when a successPolicy
 * rule is met. podFailurePolicy rules are tried in order and the first whose
 * onExitCodes match decides; exit code 0 never matches. */
#include "job_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kubernetes' own bounds (API validation): 20 rules of at most 255 values. */
#define MAX_RULES 20
#define MAX_VALUES 255

typedef enum { RULE_COUNTS, RULE_FAILS_JOB, RULE_FAILS_INDEX } rule_action;

typedef struct exit_rule {
    bool not_in; /* operator NotIn */
    int32_t values[MAX_VALUES];
    size_t value_count;
    rule_action action;
} exit_rule;

static int compare_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static bool rule_matches(const exit_rule *r, int64_t code)
{
    if (code == 0)
        return false;
    int32_t key = (int32_t)code;
    bool listed = bsearch(&key, r->values, r->value_count, sizeof(key), compare_int32) != NULL;
    return r->not_in ? !listed : listed;
}

static bool read_rule(const json_document *doc, int rule, size_t index, exit_rule *out,
                      bool *counted, buffer *errors)
{
    *counted = false;
    int on_exit_codes = json_object_get(doc, rule, "onExitCodes");
    if (on_exit_codes < 0)
        return true; /* onPodConditions only: nothing on Batch matches it (the webhook warned) */
    memset(out, 0, sizeof(*out));
    int op = json_object_get(doc, on_exit_codes, "operator");
    if (json_string_equals(doc, op, "NotIn"))
        out->not_in = true;
    else if (!json_string_equals(doc, op, "In")) {
        buffer_appendf(errors, "WORKERSPEC: podFailurePolicy.rules[%zu].onExitCodes.operator "
                               "must be In or NotIn\n", index);
        return false;
    }
    int action = json_object_get(doc, rule, "action");
    if (json_string_equals(doc, action, "FailJob"))
        out->action = RULE_FAILS_JOB;
    else if (json_string_equals(doc, action, "FailIndex"))
        out->action = RULE_FAILS_INDEX;
    else if (json_string_equals(doc, action, "Count") || json_string_equals(doc, action, "Ignore"))
        out->action = RULE_COUNTS; /* Batch counts every failed run as a retry */
    else {
        buffer_appendf(errors, "WORKERSPEC: podFailurePolicy.rules[%zu].action must be "
                               "FailJob, FailIndex, Ignore or Count\n", index);
        return false;
    }
    int values = json_object_get(doc, on_exit_codes, "values");
    json_iterator it = json_iterate(doc, values);
    int value;
    while (json_iterator_next(&it, &value)) {
        int64_t code;
        if (out->value_count == MAX_VALUES ||
            !json_read_int64(doc, value, INT32_MIN, INT32_MAX, &code)) {
            buffer_appendf(errors, "WORKERSPEC: podFailurePolicy.rules[%zu].onExitCodes.values "
                                   "must be at most %d exit codes (32-bit integers)\n",
                           index, MAX_VALUES);
            return false;
        }
        out->values[out->value_count++] = (int32_t)code;
    }
    qsort(out->values, out->value_count, sizeof(out->values[0]), compare_int32);
    *counted = true;
    return true;
}

static exit_code_effect effect_of(const job_policy *p, const exit_rule *rules, size_t count,
                                  int64_t code)
{
    for (size_t i = 0; i < count; i++)
        if (rule_matches(&rules[i], code))
            return rules[i].action == RULE_FAILS_JOB     ? EXIT_ENDS_JOB
                   : rules[i].action == RULE_FAILS_INDEX ? EXIT_ENDS_INDEX
                                                         : p->default_effect;
    return p->default_effect;
}

/* The exit codes whose effect is not the default, as disjoint spans: every
 * rule value v starts a stretch at v and at v + 1, so between two of those
 * points each code is matched by the same rules. */
static bool build_spans(job_policy *p, const exit_rule *rules, size_t count)
{
    size_t points_max = 3;
    for (size_t i = 0; i < count; i++)
        points_max += 2 * rules[i].value_count;
    int64_t *points = malloc(points_max * sizeof(*points));
    p->spans = malloc(points_max * sizeof(*p->spans));
    if (!points || !p->spans) {
        free(points);
        return false;
    }
    size_t n = 0;
    points[n++] = INT32_MIN;
    points[n++] = 0;
    points[n++] = 1;
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < rules[i].value_count; j++) {
            points[n++] = rules[i].values[j];
            points[n++] = (int64_t)rules[i].values[j] + 1;
        }
    qsort(points, n, sizeof(*points), compare_int64);
    for (size_t i = 0; i < n; i++) {
        if (points[i] > INT32_MAX || (i > 0 && points[i] == points[i - 1]))
            continue;
        int64_t end = INT32_MAX;
        for (size_t j = i + 1; j < n; j++)
            if (points[j] > points[i]) {
                end = points[j] - 1 > INT32_MAX ? INT32_MAX : points[j] - 1;
                break;
            }
        exit_code_effect effect = effect_of(p, rules, count, points[i]);
        if (points[i] == 0 || effect == p->default_effect)
            continue;
        exit_code_span *last = p->span_count ? &p->spans[p->span_count - 1] : NULL;
        if (last && last->effect == effect && (int64_t)last->end + 1 == points[i])
            last->end = (int32_t)end;
        else
            p->spans[p->span_count++] = (exit_code_span){(int32_t)points[i], (int32_t)end, effect};
    }
    free(points);
    return true;
}

static bool read_exit_rules(job_policy *p, const json_document *doc, buffer *errors)
{
    int rules = json_lookup(doc, 0, "podFailurePolicy", "rules", NULL);
    if (json_length(doc, rules) > MAX_RULES) {
        buffer_appendf(errors, "WORKERSPEC: podFailurePolicy has more than %d rules\n",
                       MAX_RULES);
        return false;
    }
    exit_rule *read = calloc(MAX_RULES, sizeof(*read));
    if (!read)
        return false;
    size_t count = 0, index = 0;
    json_iterator it = json_iterate(doc, rules);
    int rule;
    bool ok = true;
    while (ok && json_iterator_next(&it, &rule)) {
        bool counted;
        ok = read_rule(doc, rule, index++, &read[count], &counted, errors);
        count += counted;
    }
    if (ok && count)
        ok = build_spans(p, read, count);
    free(read);
    return ok;
}

/* "0-2,5,7-9": ascending, disjoint, each index below completions. */
static bool parse_indexes(const char *text, long completions, success_rule *rule)
{
    size_t commas = 0;
    for (const char *c = text; *c; c++)
        commas += *c == ',';
    rule->indexes = calloc(commas + 1, sizeof(*rule->indexes));
    if (!rule->indexes || !*text)
        return false;
    const char *c = text;
    int64_t previous = -1;
    for (;;) {
        char *end;
        if (*c < '0' || *c > '9')
            return false;
        long long first = strtoll(c, &end, 10), last = first;
        if (*end == '-') {
            c = end + 1;
            if (*c < '0' || *c > '9')
                return false;
            last = strtoll(c, &end, 10);
        }
        if (first <= previous || last < first || last >= completions)
            return false;
        rule->indexes[rule->interval_count++] = (index_interval){first, last};
        previous = last;
        if (*end == '\0')
            return true;
        if (*end != ',')
            return false;
        c = end + 1;
    }
}

static bool read_success_rules(job_policy *p, const json_document *doc, buffer *errors)
{
    int rules = json_lookup(doc, 0, "successPolicy", "rules", NULL);
    size_t count = (size_t)(json_length(doc, rules) > 0 ? json_length(doc, rules) : 0);
    if (count == 0)
        return true;
    p->success = calloc(count, sizeof(*p->success));
    if (!p->success)
        return false;
    json_iterator it = json_iterate(doc, rules);
    int rule;
    while (json_iterator_next(&it, &rule)) {
        size_t i = p->success_count++;
        success_rule *s = &p->success[i];
        int indexes = json_object_get(doc, rule, "succeededIndexes");
        int succeeded_count = json_object_get(doc, rule, "succeededCount");
        if (indexes >= 0) {
            char *text = json_string_dup(doc, indexes);
            bool ok = text && parse_indexes(text, p->completions, s);
            free(text);
            if (!ok) {
                buffer_appendf(errors, "WORKERSPEC: successPolicy.rules[%zu].succeededIndexes "
                                       "must be ascending indexes below completions (%ld), "
                                       "such as \"0-2,5\"\n", i, p->completions);
                return false;
            }
            p->success_needs_indexes = true;
        }
        if (succeeded_count >= 0 &&
            !json_read_int64(doc, succeeded_count, 1, p->completions, &s->count)) {
            buffer_appendf(errors, "WORKERSPEC: successPolicy.rules[%zu].succeededCount must be "
                                   "from 1 to completions (%ld)\n", i, p->completions);
            return false;
        }
        if (indexes < 0 && succeeded_count < 0) {
            buffer_appendf(errors, "WORKERSPEC: successPolicy.rules[%zu] needs succeededIndexes "
                                   "or succeededCount\n", i);
            return false;
        }
    }
    return true;
}

/* A whole-number field, or fallback when absent; false when malformed. */
static bool read_limit(const json_document *doc, const char *field, int64_t fallback,
                       int64_t *out, buffer *errors)
{
    int token = json_object_get(doc, 0, field);
    if (token < 0 || json_type_of(doc, token) == JSON_NULL) {
        *out = fallback;
        return true;
    }
    if (json_read_int64(doc, token, 0, INT32_MAX, out))
        return true;
    buffer_appendf(errors, "WORKERSPEC: %s must be a whole number from 0\n", field);
    return false;
}

bool job_policy_read(job_policy *p, const json_document *doc, long completions, buffer *errors)
{
    memset(p, 0, sizeof(*p));
    p->completions = completions;
    int per_index = json_object_get(doc, 0, "backoffLimitPerIndex");
    p->per_index = per_index >= 0 && json_type_of(doc, per_index) != JSON_NULL;
    p->default_effect = p->per_index ? EXIT_ENDS_INDEX : EXIT_ENDS_JOB;
    /* The API server's defaults: 6, or no limit beside backoffLimitPerIndex. */
    bool ok = read_limit(doc, "backoffLimit", p->per_index ? INT32_MAX : 6, &p->backoff_limit,
                         errors) &&
              read_limit(doc, "maxFailedIndexes", -1, &p->max_failed_indexes, errors);
    if (ok && p->backoff_limit == INT32_MAX)
        p->backoff_limit = -1;
    ok = ok && read_exit_rules(p, doc, errors) && read_success_rules(p, doc, errors);
    if (!ok)
        job_policy_free(p);
    return ok;
}

void job_policy_free(job_policy *p)
{
    free(p->spans);
    for (size_t i = 0; i < p->success_count; i++)
        free(p->success[i].indexes);
    free(p->success);
    memset(p, 0, sizeof(*p));
}

static bool rule_met(const success_rule *rule, const worker_tally *t)
{
    if (!rule->indexes)
        return t->succeeded >= rule->count;
    if (!t->succeeded_indexes)
        return false;
    int64_t listed = 0, succeeded = 0;
    for (size_t i = 0; i < rule->interval_count; i++)
        for (int64_t index = rule->indexes[i].first; index <= rule->indexes[i].last; index++) {
            listed++;
            succeeded += t->succeeded_indexes[index / 8] >> (index % 8) & 1;
        }
    return succeeded >= (rule->count ? rule->count : listed);
}

policy_verdict job_policy_judge(const job_policy *p, const worker_tally *t)
{
    if (p->backoff_limit >= 0 && t->failed_attempts > p->backoff_limit)
        return POLICY_FAILED_BACKOFF;
    if (p->per_index && p->max_failed_indexes >= 0 && t->failed > p->max_failed_indexes)
        return POLICY_FAILED_MAX_INDEXES;
    for (size_t i = 0; i < p->success_count; i++)
        if (rule_met(&p->success[i], t))
            return POLICY_SUCCEEDED;
    if (p->per_index && t->failed > 0 && t->done >= p->completions)
        return POLICY_FAILED_INDEXES;
    return POLICY_GO_ON;
}

const char *job_policy_terminate_reason(policy_verdict v)
{
    switch (v) {
    case POLICY_FAILED_BACKOFF:
        return "BackoffLimitExceeded";
    case POLICY_FAILED_MAX_INDEXES:
        return "MaxFailedIndexesExceeded";
    case POLICY_FAILED_INDEXES:
        return "FailedIndexes";
    case POLICY_SUCCEEDED:
        return "SuccessCriteriaMet";
    case POLICY_GO_ON:
        break;
    }
    return NULL;
}

bool job_policy_failed_it(const char *terminate_reason)
{
    static const policy_verdict failures[] = {POLICY_FAILED_BACKOFF, POLICY_FAILED_MAX_INDEXES,
                                              POLICY_FAILED_INDEXES};
    for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++)
        if (strcmp(terminate_reason, job_policy_terminate_reason(failures[i])) == 0)
            return true;
    return false;
}

void job_policy_describe(const job_policy *p, policy_verdict v, const worker_tally *t,
                         char *out, size_t size)
{
    switch (v) {
    case POLICY_FAILED_BACKOFF:
        snprintf(out, size, "%ld failed attempts of worker tasks: more than backoffLimit %lld",
                 t->failed_attempts, (long long)p->backoff_limit);
        break;
    case POLICY_FAILED_MAX_INDEXES:
        snprintf(out, size, "%ld indexes failed: more than maxFailedIndexes %lld", t->failed,
                 (long long)p->max_failed_indexes);
        break;
    case POLICY_FAILED_INDEXES:
        snprintf(out, size, "%ld of %ld indexes failed after their retries "
                            "(backoffLimitPerIndex)", t->failed, p->completions);
        break;
    case POLICY_SUCCEEDED:
        snprintf(out, size, "the Job's successPolicy is met (%ld of %ld indexes succeeded): "
                            "the tasks still running were stopped", t->succeeded, p->completions);
        break;
    case POLICY_GO_ON:
        snprintf(out, size, "the Job goes on");
        break;
    }
}
