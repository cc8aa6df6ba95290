#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>
#include "config/config.h"

typedef struct {
    const char *key;
    hp_config_kind_t kind;
    const char *dflt; /* for CHOICE: "default|choice|choice..." */
    int64_t min, max;
    const char *help;
    size_t offset;
} key_spec_t;

static const key_spec_t key_specs[] = {
#define HP__CONFIG_SPEC(field, key, kind, dflt, min, max, help) \
    {key, HP_CONFIG_##kind, dflt, min, max, help, offsetof(hp_config_t, field)},
    HP_CONFIG_KEYS(HP__CONFIG_SPEC)
#undef HP__CONFIG_SPEC
};
#define KEY_COUNT (sizeof(key_specs) / sizeof(key_specs[0]))

static const key_spec_t *find_key(const char *key)
{
    for (size_t i = 0; i != KEY_COUNT; ++i)
        if (strcmp(key_specs[i].key, key) == 0)
            return key_specs + i;
    return NULL;
}

/* "db-uri" -> "HOTPATH_DB_URI" */
static void env_name(const char *key, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "HOTPATH_");
    for (; *key != '\0' && n + 1 < cap; ++key)
        out[n++] = *key == '-' ? '_' : (char)toupper((unsigned char)*key);
    out[n] = '\0';
}

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Parses "123", "64k", "10M", "1G" (powers of 1024 for BYTES). */
static int parse_int(const char *value, int allow_suffix, int64_t *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(value, &end, 10);
    if (end == value || errno != 0)
        return -1;
    if (allow_suffix && *end != '\0') {
        int shift;
        switch (*end) {
        case 'k':
        case 'K': shift = 10; break;
        case 'm':
        case 'M': shift = 20; break;
        case 'g':
        case 'G': shift = 30; break;
        default: return -1;
        }
        if (v > (INT64_MAX >> shift) || v < 0)
            return -1;
        v <<= shift;
        ++end;
        if (*end == 'b' || *end == 'B')
            ++end;
    }
    if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Sets one key from text; on error writes "key: why" to errbuf. */
static int set_value(hp_config_t *conf, const key_spec_t *spec, const char *value, char *errbuf,
                     size_t errlen)
{
    void *slot = (char *)conf + spec->offset;
    switch (spec->kind) {
    case HP_CONFIG_STR: {
        char **s = slot;
        free(*s);
        *s = strdup(value);
        return 0;
    }
    case HP_CONFIG_INT:
    case HP_CONFIG_BYTES: {
        int64_t v;
        if (parse_int(value, spec->kind == HP_CONFIG_BYTES, &v) != 0)
            return fail(errbuf, errlen, "%s: '%s' is not %s", spec->key, value,
                        spec->kind == HP_CONFIG_BYTES ? "a size (like 512, 64k, 10M)"
                                                      : "an integer");
        if (v < spec->min || v > spec->max)
            return fail(errbuf, errlen, "%s: %lld is out of range [%lld, %lld]", spec->key,
                        (long long)v, (long long)spec->min, (long long)spec->max);
        *(int64_t *)slot = v;
        return 0;
    }
    case HP_CONFIG_CHOICE: {
        const char *choices = strchr(spec->dflt, '|') + 1;
        size_t vlen = strlen(value);
        int index = 0;
        for (const char *c = choices; *c != '\0'; ++index) {
            const char *bar = strchr(c, '|');
            size_t clen = bar != NULL ? (size_t)(bar - c) : strlen(c);
            if (clen == vlen && memcmp(c, value, vlen) == 0) {
                *(int *)slot = index;
                return 0;
            }
            c += clen + (bar != NULL);
        }
        return fail(errbuf, errlen, "%s: '%s' is not one of %s", spec->key, value, choices);
    }
    }
    return fail(errbuf, errlen, "%s: unknown kind", spec->key);
}

/* Copies the key's default into dflt; returns its choices ("a|b|c") for a CHOICE key, else
 * NULL. */
static const char *split_default(const key_spec_t *spec, char *dflt, size_t cap)
{
    snprintf(dflt, cap, "%s", spec->dflt);
    if (spec->kind != HP_CONFIG_CHOICE)
        return NULL;
    *strchr(dflt, '|') = '\0';
    return strchr(spec->dflt, '|') + 1;
}

static void set_defaults(hp_config_t *conf)
{
    char err[256];
    memset(conf, 0, sizeof(*conf));
    for (size_t i = 0; i != KEY_COUNT; ++i) {
        const key_spec_t *spec = key_specs + i;
        char dflt[128];
        split_default(spec, dflt, sizeof(dflt));
        int r = set_value(conf, spec, dflt, err, sizeof(err));
        (void)r; /* the table's defaults are valid: test_config_defaults_are_valid checks it */
    }
}

/* --- the file --- */

typedef struct {
    FILE *fp;
    int line;
    hp_config_t *conf;
    char *errbuf;
    size_t errlen;
    int failed;
} file_reader_t;

/* ini_parse_stream's reader: fgets that counts lines, so errors can name theirs. */
static char *read_line(char *str, int num, void *stream)
{
    file_reader_t *r = stream;
    char *s = fgets(str, num, r->fp);
    if (s != NULL)
        ++r->line;
    return s;
}

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
    file_reader_t *r = user;
    if (r->failed)
        return 1;
    char key[128];
    if (section != NULL && section[0] != '\0')
        snprintf(key, sizeof(key), "%s-%s", section, name);
    else
        snprintf(key, sizeof(key), "%s", name);
    const key_spec_t *spec = find_key(key);
    char why[256];
    if (spec == NULL) {
        snprintf(why, sizeof(why), "%s: unknown key (see hotpath --help)", key);
    } else if (set_value(r->conf, spec, value, why, sizeof(why)) == 0) {
        return 1;
    }
    snprintf(r->errbuf, r->errlen, "%s:%d: %s", r->conf->config_file, r->line, why);
    r->failed = 1;
    return 0;
}

static int load_file(hp_config_t *conf, const char *path, char *errbuf, size_t errlen)
{
    conf->config_file = strdup(path);
    file_reader_t r = {fopen(path, "r"), 0, conf, errbuf, errlen, 0};
    if (r.fp == NULL)
        return fail(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
    int line = ini_parse_stream(read_line, &r, on_ini_entry, &r);
    fclose(r.fp);
    if (r.failed)
        return -1;
    if (line != 0)
        return fail(errbuf, errlen, "%s:%d: syntax error (expected key = value or [section])", path,
                    line);
    return 0;
}

/* --- environment and flags --- */

static const char *env_lookup(char **envp, const char *name)
{
    size_t len = strlen(name);
    for (; envp != NULL && *envp != NULL; ++envp)
        if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
            return *envp + len + 1;
    return NULL;
}

static int load_env(hp_config_t *conf, char **envp, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i != KEY_COUNT; ++i) {
        char name[128], why[256];
        env_name(key_specs[i].key, name, sizeof(name));
        const char *value = env_lookup(envp, name);
        if (value != NULL && set_value(conf, key_specs + i, value, why, sizeof(why)) != 0)
            return fail(errbuf, errlen, "environment %s: %s", name, why);
    }
    return 0;
}

/* Calls on_flag(key, value) for each --key value / --key=value; "--config" included. */
typedef int (*flag_cb)(void *ctx, const char *key, const char *value, char *errbuf, size_t errlen);

static int each_flag(int argc, char **argv, flag_cb cb, void *ctx, char *errbuf, size_t errlen)
{
    for (int i = 0; i < argc; ++i) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0)
            return fail(errbuf, errlen, "unexpected argument '%s' (options look like --key value)",
                        arg);
        char key[128];
        const char *eq = strchr(arg + 2, '='), *value;
        if (eq != NULL) {
            snprintf(key, sizeof(key), "%.*s", (int)(eq - arg - 2), arg + 2);
            value = eq + 1;
        } else {
            snprintf(key, sizeof(key), "%s", arg + 2);
            if (i + 1 >= argc)
                return fail(errbuf, errlen, "--%s: missing value", key);
            value = argv[++i];
        }
        if (cb(ctx, key, value, errbuf, errlen) != 0)
            return -1;
    }
    return 0;
}

static int find_config_flag(void *ctx, const char *key, const char *value, char *errbuf,
                            size_t errlen)
{
    (void)errbuf, (void)errlen;
    if (strcmp(key, "config") == 0)
        *(const char **)ctx = value;
    return 0;
}

static int apply_flag(void *ctx, const char *key, const char *value, char *errbuf, size_t errlen)
{
    if (strcmp(key, "config") == 0)
        return 0;
    const key_spec_t *spec = find_key(key);
    char why[256];
    if (spec == NULL)
        return fail(errbuf, errlen, "--%s: unknown option (see hotpath --help)", key);
    if (set_value(ctx, spec, value, why, sizeof(why)) != 0)
        return fail(errbuf, errlen, "--%s", why);
    return 0;
}

int hp_config_load(hp_config_t *conf, int argc, char **argv, char **envp, char *errbuf,
                   size_t errlen)
{
    set_defaults(conf);
    const char *file = env_lookup(envp, "HOTPATH_CONFIG");
    if (each_flag(argc, argv, find_config_flag, &file, errbuf, errlen) != 0)
        return -1;
    if (file != NULL && load_file(conf, file, errbuf, errlen) != 0)
        return -1;
    if (load_env(conf, envp, errbuf, errlen) != 0)
        return -1;
    return each_flag(argc, argv, apply_flag, conf, errbuf, errlen);
}

void hp_config_dispose(hp_config_t *conf)
{
    for (size_t i = 0; i != KEY_COUNT; ++i)
        if (key_specs[i].kind == HP_CONFIG_STR)
            free(*(char **)((char *)conf + key_specs[i].offset));
    free(conf->config_file);
    memset(conf, 0, sizeof(*conf));
}

void hp_config_resolve_auto(hp_config_t *conf, unsigned cores)
{
    if (cores == 0)
        cores = 1;
    if (conf->server_threads == 0)
        conf->server_threads = cores;
    if (conf->db_pool == 0)
        conf->db_pool = 2 * (int64_t)cores;
}

void hp_config_print_help(FILE *out)
{
    fprintf(out, "Options (file key = value, environment HOTPATH_KEY, flag --key value;\n"
                 "flags beat the environment, which beats the file):\n\n");
    for (size_t i = 0; i != KEY_COUNT; ++i) {
        const key_spec_t *spec = key_specs + i;
        char name[128], dflt[128];
        env_name(spec->key, name, sizeof(name));
        const char *choices = split_default(spec, dflt, sizeof(dflt));
        fprintf(out, "  --%-28s %s\n  %-30s env %s, default %s%s%s\n", spec->key, spec->help, "",
                name, dflt, choices ? ", one of " : "", choices ? choices : "");
    }
    fprintf(out, "  --%-28s %s\n", "config FILE", "read an INI file first (env HOTPATH_CONFIG)");
}

void hp_config_print_markdown(FILE *out)
{
    fprintf(out, "# Configuration\n\n"
                 "Generated by `hotpath docs config` from the key table in src/config/config.h.\n"
                 "Every key can be set in an INI file (`--config FILE`; `[db]` + `pool = 4` is\n"
                 "`db-pool`), in the environment (`HOTPATH_DB_POOL=4`) or as a flag\n"
                 "(`--db-pool 4`); flags beat the environment, which beats the file.\n\n"
                 "| key | environment | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i != KEY_COUNT; ++i) {
        const key_spec_t *spec = key_specs + i;
        char name[128], dflt[128];
        env_name(spec->key, name, sizeof(name));
        const char *choices = split_default(spec, dflt, sizeof(dflt));
        fprintf(out, "| `%s` | `%s` | `%s` | %s", spec->key, name, dflt, spec->help);
        if (choices != NULL) {
            fputs("; one of ", out);
            for (const char *c = choices; *c != '\0'; ++c)
                fputs(*c == '|' ? ", " : (char[]){*c, '\0'}, out);
        }
        fputs(" |\n", out);
    }
}
