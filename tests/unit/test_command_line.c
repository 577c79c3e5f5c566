/* Command lines for Batch tasks (offloader/command_line.c).
 *
 * kubelet_expand against every case of the kubelet's own implementation,
 * k8s.io/kubernetes third_party/forked/golang/expansion/expand_test.go
 * (TestMapReference and doExpansionTest, run as TestMapping and
 * TestMappingDual), plus what its rune decoding implies for non-ASCII and
 * invalid UTF-8 after a '$'. command_line_append_word: words come back
 * unchanged through POSIX word splitting (a small splitter below), and plain
 * words stay readable. */
#include "test_support.h"

#include "buffer.h"
#include "command_line.h"
#include "env_list.h"

static char *expand(const env_list *env, const char *input)
{
    buffer out;
    buffer_init(&out, 0);
    kubelet_expand(input, env, &out);
    assert_true(buffer_ok(&out));
    char *copy = strdup(buffer_cstr(&out));
    buffer_free(&out);
    return copy;
}

static void check_expand(const env_list *env, const char *name, const char *input,
                         const char *expected)
{
    char *got = expand(env, input);
    if (strcmp(got, expected) != 0)
        fail_msg("%s: expand(\"%s\") gave \"%s\", expected \"%s\"", name, input, got, expected);
    free(got);
}

/* expand_test.go, doExpansionTest: name, input, expected. */
static const char *const go_cases[][3] = {
    {"whole string", "$(VAR_A)", "A"},
    {"repeat", "$(VAR_A)-$(VAR_A)", "A-A"},
    {"beginning", "$(VAR_A)-1", "A-1"},
    {"middle", "___$(VAR_B)___", "___B___"},
    {"end", "___$(VAR_C)", "___C"},
    {"compound", "$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"},
    {"escape & expand", "$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"},
    {"compound escape", "$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"},
    {"mixed in escapes", "f000-$$VAR_A", "f000-$VAR_A"},
    {"backslash escape ignored", "foo\\$(VAR_C)bar", "foo\\Cbar"},
    {"backslash escape ignored", "foo\\\\$(VAR_C)bar", "foo\\\\Cbar"},
    {"lots of backslashes", "foo\\\\\\\\$(VAR_A)bar", "foo\\\\\\\\Abar"},
    {"nested var references", "$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"},
    {"nested var references second type", "$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"},
    {"value is a reference", "$(VAR_REF)", "$(VAR_A)"},
    {"value is a reference x 2", "%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%"},
    {"empty var", "foo$(VAR_EMPTY)bar", "foobar"},
    {"unterminated expression", "foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"},
    {"expression without operator", "f00__(VAR_A)__", "f00__(VAR_A)__"},
    {"shell special vars pass through", "$?_boo_$!", "$?_boo_$!"},
    {"bare operators are ignored", "$VAR_A", "$VAR_A"},
    {"undefined vars are passed through", "$(VAR_DNE)", "$(VAR_DNE)"},
    {"multiple (even) operators, var undefined", "$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"},
    {"multiple (even) operators, var defined", "$$$$$$(VAR_A)", "$$$(VAR_A)"},
    {"multiple (odd) operators, var undefined", "$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"},
    {"multiple (odd) operators, var defined", "$$$$$$$(VAR_A)", "$$$A"},
    {"missing open expression", "$VAR_A)", "$VAR_A)"},
    {"shell syntax ignored", "${VAR_A}", "${VAR_A}"},
    {"trailing incomplete expression not consumed", "$(VAR_B)_______$(A", "B_______$(A"},
    {"trailing incomplete expression, no content, is not consumed", "$(VAR_C)_______$(",
     "C_______$("},
    {"operator at end of input string is preserved", "$(VAR_A)foobarzab$", "Afoobarzab$"},
    {"shell escaped incomplete expr", "foo-\\$(VAR_A", "foo-\\$(VAR_A"},
    {"lots of $( in middle", "--$($($($($--", "--$($($($($--"},
    {"lots of $( in beginning", "$($($($($--foo$(", "$($($($($--foo$("},
    {"lots of $( at end", "foo0--$($($($(", "foo0--$($($($("},
    {"escaped operators in variable names are not escaped", "$(foo$$var)", "$(foo$$var)"},
    {"newline not expanded", "\n", "\n"},
};

static void run_go_cases(const env_list *env)
{
    for (size_t i = 0; i < sizeof(go_cases) / sizeof(go_cases[0]); i++)
        check_expand(env, go_cases[i][0], go_cases[i][1], go_cases[i][2]);
}

/* TestMapping: one context with every variable. */
static void test_expand_go_mapping(void **state)
{
    (void)state;
    env_list env = {0};
    assert_true(env_list_set(&env, "VAR_A", "A"));
    assert_true(env_list_set(&env, "VAR_B", "B"));
    assert_true(env_list_set(&env, "VAR_C", "C"));
    assert_true(env_list_set(&env, "VAR_REF", "$(VAR_A)"));
    assert_true(env_list_set(&env, "VAR_EMPTY", ""));
    run_go_cases(&env);
    env_list_free(&env);
}

/* TestMappingDual: two contexts (declared env, then service env); the
 * kubelet looks in each in turn, which for distinct names is one list. */
static void test_expand_go_mapping_dual(void **state)
{
    (void)state;
    env_list env = {0};
    assert_true(env_list_set(&env, "VAR_A", "A"));
    assert_true(env_list_set(&env, "VAR_EMPTY", ""));
    assert_true(env_list_set(&env, "VAR_B", "B"));
    assert_true(env_list_set(&env, "VAR_C", "C"));
    assert_true(env_list_set(&env, "VAR_REF", "$(VAR_A)"));
    run_go_cases(&env);
    env_list_free(&env);
}

/* TestMapReference: each env value expanded with what is defined so far. */
static void test_expand_go_map_reference(void **state)
{
    (void)state;
    const char *const entries[][2] = {{"FOO", "bar"}, {"ZOO", "$(FOO)-1"}, {"BLU", "$(ZOO)-2"}};
    env_list env = {0};
    /* declaredEnv starts with the raw values, as in the Go test */
    for (size_t i = 0; i < 3; i++)
        assert_true(env_list_set(&env, entries[i][0], entries[i][1]));
    for (size_t i = 0; i < 3; i++) {
        char *value = expand(&env, entries[i][1]);
        assert_true(env_list_set(&env, entries[i][0], value));
        free(value);
    }
    assert_string_equal(env_list_get(&env, "FOO"), "bar");
    assert_string_equal(env_list_get(&env, "ZOO"), "bar-1");
    assert_string_equal(env_list_get(&env, "BLU"), "bar-1-2");
    assert_int_equal(env.count, 3);
    env_list_free(&env);
}

static void test_expand_non_ascii_and_invalid_utf8(void **state)
{
    (void)state;
    env_list env = {0};
    assert_true(env_list_set(&env, "VAR_A", "A"));
    assert_true(env_list_set(&env, "GRÜSSE", "hallo"));
    /* a multi-byte character after '$' is kept whole */
    check_expand(&env, "pound", "$\xc2\xa3" "FOO", "$\xc2\xa3" "FOO");
    check_expand(&env, "euro", "prefix-$\xe2\x82\xac-suffix", "prefix-$\xe2\x82\xac-suffix");
    check_expand(&env, "chinese", "$\xe4\xb8\xad\xe6\x96\x87", "$\xe4\xb8\xad\xe6\x96\x87");
    check_expand(&env, "four bytes", "$\xf0\x9f\x98\x80$(VAR_A)", "$\xf0\x9f\x98\x80" "A");
    check_expand(&env, "non-ASCII name", "$(GR\xc3\x9c" "SSE) welt", "hallo welt");
    check_expand(&env, "non-ASCII around", "\xc3\xbc$(VAR_A)\xc3\xbc", "\xc3\xbc" "A\xc3\xbc");
    /* Go's DecodeRuneInString gives U+FFFD for one invalid byte after '$'
     * (only that byte: what follows is copied as it is) */
    check_expand(&env, "invalid byte", "a$\xff" "b", "a$\xef\xbf\xbd" "b");
    check_expand(&env, "continuation byte", "$\x80$(VAR_A)", "$\xef\xbf\xbd" "A");
    check_expand(&env, "truncated at the end", "$\xc3", "$\xef\xbf\xbd");
    check_expand(&env, "overlong", "$\xc0\xaf", "$\xef\xbf\xbd\xaf");
    check_expand(&env, "surrogate", "$\xed\xa0\x80", "$\xef\xbf\xbd\xa0\x80");
    check_expand(&env, "above U+10FFFF", "$\xf4\x90\x80\x80", "$\xef\xbf\xbd\x90\x80\x80");
    check_expand(&env, "invalid elsewhere is kept", "\xff$(VAR_A)\xff", "\xff" "A\xff");
    env_list_free(&env);
}

static void test_expand_long_names_and_later_definitions(void **state)
{
    (void)state;
    env_list env = {0};
    char name[3001];
    memset(name, 'N', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_true(env_list_set(&env, name, "long"));
    assert_true(env_list_set(&env, "X", "first"));
    assert_true(env_list_set(&env, "X", "second")); /* a later entry replaces */
    buffer input;
    buffer_init(&input, 0);
    buffer_appendf(&input, "<$(%s)> $(X) $(XX) $(N)", name);
    check_expand(&env, "long name", buffer_cstr(&input), "<long> second $(XX) $(N)");
    buffer_free(&input);
    check_expand(&env, "empty name", "$()", "$()");
    check_expand(&env, "empty input", "", "");
    env_list_free(&env);
}

/* ----- quoting ----- */

/* POSIX shell word splitting and quote removal, for what a quoter may
 * produce: blanks separate words; '...' is literal; "..." is literal but for
 * backslash before $ ` " \ and newline; a backslash elsewhere quotes the next
 * character. Returns the number of words, or -1 on unbalanced quotes. */
static int posix_split(const char *line, char words[][256], int max_words)
{
    int count = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            return count;
        if (count == max_words)
            return -1;
        char *w = words[count++];
        size_t n = 0;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
            if (*p == '\'') {
                const char *end = strchr(p + 1, '\'');
                if (!end)
                    return -1;
                for (p++; p < end; p++)
                    w[n++] = *p;
                p++;
            } else if (*p == '"') {
                for (p++; *p && *p != '"'; p++) {
                    if (*p == '\\' && p[1] && strchr("$`\"\\\n", p[1]))
                        p++;
                    w[n++] = *p;
                }
                if (*p != '"')
                    return -1;
                p++;
            } else if (*p == '\\' && p[1]) {
                w[n++] = p[1];
                p += 2;
            } else {
                w[n++] = *p++;
            }
            assert_true(n < 255);
        }
        w[n] = '\0';
    }
}

static const char *const awkward_words[] = {
    "plain", "", "with space", "it's", "'", "''", "\"", "\\", "$HOME", "$(VAR)", "`id`",
    "a\nb", "tab\there", "*", "?", "[a]", "~user", "#comment", "a;b", "a&b", "a|b", "<in",
    ">out", "(x)", "{a,b}", "!", "--flag=value", "a,b", "100%", "@file", "-", "--",
    "a'b'c", "\xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "de", "\xff", " leading", "trailing ", "\"'\"'",
};

static void test_append_word_round_trips(void **state)
{
    (void)state;
    size_t n = sizeof(awkward_words) / sizeof(awkward_words[0]);
    buffer line;
    buffer_init(&line, 0);
    for (size_t i = 0; i < n; i++)
        command_line_append_word(&line, awkward_words[i]);
    assert_true(buffer_ok(&line));
    static char words[64][256];
    int count = posix_split(buffer_cstr(&line), words, 64);
    assert_int_equal(count, (int)n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(words[i], awkward_words[i]) != 0)
            fail_msg("word %zu: \"%s\" came back as \"%s\" from %s", i, awkward_words[i],
                     words[i], buffer_cstr(&line));
    /* each word alone too */
    for (size_t i = 0; i < n; i++) {
        buffer one;
        buffer_init(&one, 0);
        command_line_append_word(&one, awkward_words[i]);
        assert_int_equal(posix_split(buffer_cstr(&one), words, 64), 1);
        assert_string_equal(words[0], awkward_words[i]);
        buffer_free(&one);
    }
    buffer_free(&line);
}

static void test_append_word_exact_text(void **state)
{
    (void)state;
    const char *const cases[][2] = {
        {"plain", "plain"},
        {"--flag=a/b.c:d@e%f+g,h_i-j", "--flag=a/b.c:d@e%f+g,h_i-j"},
        {"", "''"},
        {"with space", "'with space'"},
        {"it's", "'it'\\''s'"},
        {"$HOME", "'$HOME'"},
        {"\xc3\xbc", "'\xc3\xbc'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buffer out;
        buffer_init(&out, 0);
        command_line_append_word(&out, cases[i][0]);
        assert_string_equal(buffer_cstr(&out), cases[i][1]);
        buffer_free(&out);
    }
    buffer out;
    buffer_init(&out, 0);
    command_line_append_word(&out, "a");
    command_line_append_word(&out, "");
    command_line_append_word(&out, "b c");
    assert_string_equal(buffer_cstr(&out), "a '' 'b c'");
    buffer_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand_go_mapping),
        cmocka_unit_test(test_expand_go_mapping_dual),
        cmocka_unit_test(test_expand_go_map_reference),
        cmocka_unit_test(test_expand_non_ascii_and_invalid_utf8),
        cmocka_unit_test(test_expand_long_names_and_later_definitions),
        cmocka_unit_test(test_append_word_round_trips),
        cmocka_unit_test(test_append_word_exact_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
