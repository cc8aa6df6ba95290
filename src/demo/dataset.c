/*
 * The shopiot generator. Each row draws from its own splitmix64 stream keyed by (seed, table,
 * id), so a row never depends on another row having been generated first. Text is written by
 * hand (no printf) because the loader calls this 3 million times and formatting is most of
 * the generator's cost.
 */
#include "demo/dataset.h"

#include <string.h>

/* --- columns and indexes --- */

static const hp_demo_column_t users_columns[] = {
    {"id", HP_DEMO_INTEGER, 1, NULL},           {"username", HP_DEMO_TEXT, 0, NULL},
    {"email", HP_DEMO_TEXT, 0, NULL},           {"active", HP_DEMO_BOOLEAN, 0, NULL},
    {"created_at", HP_DEMO_TIMESTAMP, 0, NULL}, {"bio", HP_DEMO_TEXT, 0, NULL},
};
static const hp_demo_column_t products_columns[] = {
    {"id", HP_DEMO_INTEGER, 1, NULL},           {"name", HP_DEMO_TEXT, 0, NULL},
    {"price", HP_DEMO_REAL, 0, NULL},           {"category_id", HP_DEMO_INTEGER, 0, NULL},
    {"created_at", HP_DEMO_TIMESTAMP, 0, NULL},
};
static const hp_demo_column_t product_details_columns[] = {
    {"product_id", HP_DEMO_INTEGER, 1, "products"},
    {"description", HP_DEMO_TEXT, 0, NULL},
    {"specifications", HP_DEMO_TEXT, 0, NULL},
};
static const hp_demo_column_t orders_columns[] = {
    {"id", HP_DEMO_INTEGER, 1, NULL},           {"user_id", HP_DEMO_INTEGER, 0, "users"},
    {"status", HP_DEMO_TEXT, 0, NULL},          {"total", HP_DEMO_REAL, 0, NULL},
    {"created_at", HP_DEMO_TIMESTAMP, 0, NULL},
};
static const hp_demo_column_t devices_columns[] = {
    {"id", HP_DEMO_INTEGER, 1, NULL},
    {"name", HP_DEMO_TEXT, 0, NULL},
    {"status", HP_DEMO_TEXT, 0, NULL},
};
static const hp_demo_column_t readings_columns[] = {
    {"id", HP_DEMO_INTEGER, 1, NULL},
    {"device_id", HP_DEMO_INTEGER, 0, "devices"},
    {"temperature", HP_DEMO_REAL, 0, NULL},
    {"ts", HP_DEMO_TIMESTAMP, 0, NULL},
};

#define COLUMNS(a) a, sizeof(a) / sizeof(a[0])

static const hp_demo_table_t tables[HP_DEMO_TABLE_COUNT] = {
    [HP_DEMO_USERS] = {"users", COLUMNS(users_columns), 100000},
    [HP_DEMO_PRODUCTS] = {"products", COLUMNS(products_columns), 20000},
    [HP_DEMO_PRODUCT_DETAILS] = {"product_details", COLUMNS(product_details_columns), 20000},
    [HP_DEMO_ORDERS] = {"orders", COLUMNS(orders_columns), 1000000},
    [HP_DEMO_DEVICES] = {"devices", COLUMNS(devices_columns), 10000},
    [HP_DEMO_READINGS] = {"readings", COLUMNS(readings_columns), 2000000},
};

static const hp_demo_index_t indexes[] = {
    {"orders_user_id_status_created_at_idx", "orders", "user_id, status, created_at"},
    {"readings_device_id_ts_idx", "readings", "device_id, ts"},
    {"products_category_id_idx", "products", "category_id"},
};

const hp_demo_table_t *hp_demo_table(hp_demo_table_id_t id)
{
    return &tables[id];
}

const hp_demo_index_t *hp_demo_indexes(size_t *count)
{
    *count = sizeof(indexes) / sizeof(indexes[0]);
    return indexes;
}

int hp_demo_init(hp_demo_t *demo, double scale, uint64_t seed)
{
    /* The negated test also rejects NaN. */
    if (!(scale > 0 && scale <= HP_DEMO_MAX_SCALE))
        return -1;
    demo->seed = seed;
    demo->scale = scale;
    for (int t = 0; t < HP_DEMO_TABLE_COUNT; t++) {
        int64_t n = (int64_t)((double)tables[t].full_row_count * scale + 0.5);
        demo->row_count[t] = n < 1 ? 1 : n;
    }
    /* product_details is 1:1 with products by construction (same full count). */
    demo->row_count[HP_DEMO_PRODUCT_DETAILS] = demo->row_count[HP_DEMO_PRODUCTS];
    return 0;
}

/* --- randomness --- */

typedef struct {
    uint64_t state;
} rng_t;

/* splitmix64's output function: a bijective 64-bit mix. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static uint64_t rng_next(rng_t *r)
{
    r->state += 0x9E3779B97F4A7C15u;
    return mix64(r->state);
}

/* Uniform in [0, n) for n < 2^32 (Lemire's multiply-shift; the bias is below 2^-32). */
static uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

/* Uniform in [lo, hi]. */
static int64_t rng_range(rng_t *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(rng_next(r) % span);
}

/* The stream of row `id` of table `table`; `salt` separates independent streams of one row. */
static void rng_seed(rng_t *r, const hp_demo_t *demo, int table, int64_t id, unsigned salt)
{
    uint64_t key = mix64(demo->seed + 0x9E3779B97F4A7C15u);
    key = mix64(key ^ ((uint64_t)(table + 1) << 56) ^ ((uint64_t)salt << 48));
    r->state = key ^ mix64((uint64_t)id);
}

/* --- words --- */

typedef struct {
    const char *s;
    size_t len;
} word_t;

#define W(lit)               \
    {                        \
        lit, sizeof(lit) - 1 \
    }

static const word_t words[] = {
    W("the"),      W("a"),        W("of"),      W("and"),      W("to"),      W("in"),
    W("with"),     W("for"),      W("on"),      W("by"),       W("from"),    W("every"),
    W("quiet"),    W("bright"),   W("steady"),  W("simple"),   W("modern"),  W("classic"),
    W("rugged"),   W("compact"),  W("gentle"),  W("rapid"),    W("careful"), W("honest"),
    W("coffee"),   W("mountain"), W("river"),   W("garden"),   W("kitchen"), W("window"),
    W("signal"),   W("network"),  W("sensor"),  W("battery"),  W("market"),  W("orchard"),
    W("morning"),  W("evening"),  W("weekend"), W("journey"),  W("project"), W("library"),
    W("bicycle"),  W("camera"),   W("guitar"),  W("notebook"), W("lantern"), W("compass"),
    W("builds"),   W("collects"), W("enjoys"),  W("measures"), W("keeps"),   W("reads"),
    W("writes"),   W("repairs"),  W("travels"), W("cooks"),    W("plants"),  W("studies"),
    W("designs"),  W("shares"),   W("tracks"),  W("tests"),    W("ships"),   W("records"),
    W("friends"),  W("family"),   W("city"),    W("village"),  W("ocean"),   W("forest"),
    W("winter"),   W("summer"),   W("spring"),  W("autumn"),   W("data"),    W("music"),
    W("stories"),  W("recipes"),  W("tools"),   W("maps"),     W("photos"),  W("plans"),
    W("durable"),  W("reliable"), W("elegant"), W("portable"), W("precise"), W("sturdy"),
    W("material"), W("finish"),   W("surface"), W("frame"),    W("handle"),  W("cover"),
    W("daily"),    W("outdoor"),  W("indoor"),  W("travel"),   W("office"),  W("home"),
    W("steel"),    W("oak"),      W("cotton"),  W("glass"),    W("ceramic"), W("leather"),
    W("designed"), W("made"),     W("tested"),  W("finished"), W("packed"),  W("shipped"),
    W("long"),     W("light"),    W("warm"),    W("cool"),     W("soft"),    W("strong"),
    W("lasting"),  W("comfort"),  W("quality"), W("value"),    W("care"),    W("detail"),
};
#define WORD_COUNT (sizeof(words) / sizeof(words[0]))

static const word_t adjectives[] = {
    W("amber"),  W("brave"), W("calm"),    W("dusty"),   W("eager"),  W("fancy"),  W("golden"),
    W("happy"),  W("icy"),   W("jolly"),   W("keen"),    W("lucky"),  W("mellow"), W("noble"),
    W("olive"),  W("proud"), W("quick"),   W("rosy"),    W("silver"), W("tidy"),   W("urban"),
    W("vivid"),  W("wild"),  W("young"),   W("zesty"),   W("azure"),  W("bold"),   W("crisp"),
    W("sturdy"), W("smart"), W("classic"), W("compact"),
};
#define ADJECTIVE_COUNT (sizeof(adjectives) / sizeof(adjectives[0]))

static const word_t nouns[] = {
    W("falcon"), W("otter"),  W("maple"),    W("comet"),   W("harbor"),  W("pixel"),  W("tiger"),
    W("willow"), W("badger"), W("canyon"),   W("dolphin"), W("ember"),   W("fjord"),  W("glacier"),
    W("heron"),  W("island"), W("jaguar"),   W("koala"),   W("lagoon"),  W("meadow"), W("nebula"),
    W("orchid"), W("panda"),  W("quartz"),   W("raven"),   W("sparrow"), W("tundra"), W("valley"),
    W("lamp"),   W("kettle"), W("backpack"), W("speaker"),
};
#define NOUN_COUNT (sizeof(nouns) / sizeof(nouns[0]))

static const word_t spec_keys[] = {
    W("material"), W("color"),    W("finish"), W("weight"),    W("width"),    W("height"),
    W("depth"),    W("warranty"), W("origin"), W("power"),     W("capacity"), W("grade"),
    W("care"),     W("fit"),      W("style"),  W("packaging"),
};
#define SPEC_KEY_COUNT (sizeof(spec_keys) / sizeof(spec_keys[0]))

static const word_t spec_units[] = {
    W("g"), W("kg"), W("cm"), W("mm"), W("W"), W("ml"), W("months"), W("years"),
};
#define SPEC_UNIT_COUNT (sizeof(spec_units) / sizeof(spec_units[0]))

static const word_t domains[] = {
    W("example.com"),
    W("example.org"),
    W("example.net"),
    W("mail.test"),
};
#define DOMAIN_COUNT (sizeof(domains) / sizeof(domains[0]))

static const word_t places[] = {
    W("greenhouse"), W("warehouse"), W("cellar"), W("rooftop"), W("lab"),
    W("office"),     W("freezer"),   W("barn"),   W("garage"),  W("attic"),
};
#define PLACE_COUNT (sizeof(places) / sizeof(places[0]))

/* --- text writers: each appends at out[*len] and keeps out NUL-terminated --- */

static void put(char *out, size_t *len, const char *s, size_t n)
{
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

static void put_word(char *out, size_t *len, const word_t *w)
{
    put(out, len, w->s, w->len);
}

static void put_uint(char *out, size_t *len, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        out[(*len)++] = tmp[--n];
    out[*len] = '\0';
}

static void capitalize_at(char *out, size_t at)
{
    if (out[at] >= 'a' && out[at] <= 'z')
        out[at] = (char)(out[at] - 'a' + 'A');
}

/* Sentences of 5..14 words from `words` until at least `target` bytes are written. The longest
 * word is 8 bytes, so the text ends within target + 10 bytes; cap must allow that. */
static size_t put_sentences(rng_t *r, char *out, size_t cap, size_t target)
{
    size_t len = 0;
    out[0] = '\0';
    while (len < target && len + 12 < cap) {
        uint32_t count = 5 + rng_below(r, 10);
        if (len > 0)
            put(out, &len, " ", 1);
        size_t start = len;
        for (uint32_t k = 0; k < count && len < target; k++) {
            if (k > 0)
                put(out, &len, " ", 1);
            put_word(out, &len, &words[rng_below(r, WORD_COUNT)]);
        }
        capitalize_at(out, start);
        put(out, &len, ".", 1);
    }
    return len;
}

/* "key: value; key: 12 kg; ..." until at least `target` bytes. */
static size_t put_specifications(rng_t *r, char *out, size_t cap, size_t target)
{
    size_t len = 0;
    out[0] = '\0';
    while (len < target && len + 40 < cap) {
        if (len > 0)
            put(out, &len, "; ", 2);
        put_word(out, &len, &spec_keys[rng_below(r, SPEC_KEY_COUNT)]);
        put(out, &len, ": ", 2);
        if (rng_below(r, 2) == 0) {
            put_uint(out, &len, 1 + rng_below(r, 999));
            put(out, &len, " ", 1);
            put_word(out, &len, &spec_units[rng_below(r, SPEC_UNIT_COUNT)]);
        } else {
            put_word(out, &len, &adjectives[rng_below(r, ADJECTIVE_COUNT)]);
            put(out, &len, " ", 1);
            put_word(out, &len, &words[rng_below(r, WORD_COUNT)]);
        }
    }
    return len;
}

/* --- time --- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t unix_time(int64_t y, unsigned m, unsigned d)
{
    return days_from_civil(y, m, d) * 86400;
}

static void put_2digits(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void hp_demo_format_time(int64_t t, char *out)
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999; /* outside the 4-digit range no demo time ever reaches */
    put_2digits(out, (unsigned)(y / 100));
    put_2digits(out + 2, (unsigned)(y % 100));
    out[4] = '-';
    put_2digits(out + 5, m);
    out[7] = '-';
    put_2digits(out + 8, d);
    out[10] = 'T';
    put_2digits(out + 11, (unsigned)(secs / 3600));
    out[13] = ':';
    put_2digits(out + 14, (unsigned)(secs / 60 % 60));
    out[16] = ':';
    put_2digits(out + 17, (unsigned)(secs % 60));
    out[19] = 'Z';
    out[20] = '\0';
}

/* A uniform time in [from, to) (Unix seconds). */
static void put_random_time(rng_t *r, int64_t from, int64_t to, char *out)
{
    hp_demo_format_time(rng_range(r, from, to - 1), out);
}

/* --- rows --- */

void hp_demo_user(const hp_demo_t *demo, int64_t id, hp_demo_user_t *out)
{
    rng_t r;
    rng_seed(&r, demo, HP_DEMO_USERS, id, 0);
    out->id = id;

    size_t len = 0;
    put_word(out->username, &len, &adjectives[rng_below(&r, ADJECTIVE_COUNT)]);
    put(out->username, &len, "_", 1);
    put_word(out->username, &len, &nouns[rng_below(&r, NOUN_COUNT)]);
    /* Words hold no digits, so the trailing id alone makes the name unique. */
    put_uint(out->username, &len, (uint64_t)id);

    size_t elen = 0;
    put(out->email, &elen, out->username, len);
    put(out->email, &elen, "@", 1);
    put_word(out->email, &elen, &domains[rng_below(&r, DOMAIN_COUNT)]);

    out->active = rng_below(&r, 100) < 80;
    put_random_time(&r, unix_time(2022, 1, 1), unix_time(2025, 1, 1), out->created_at);
    put_sentences(&r, out->bio, sizeof(out->bio), 170 + rng_below(&r, 61));
}

void hp_demo_product(const hp_demo_t *demo, int64_t id, hp_demo_product_t *out)
{
    rng_t r;
    rng_seed(&r, demo, HP_DEMO_PRODUCTS, id, 0);
    out->id = id;

    size_t len = 0;
    put_word(out->name, &len, &adjectives[rng_below(&r, ADJECTIVE_COUNT)]);
    capitalize_at(out->name, 0);
    put(out->name, &len, " ", 1);
    size_t noun_at = len;
    put_word(out->name, &len, &nouns[rng_below(&r, NOUN_COUNT)]);
    capitalize_at(out->name, noun_at);
    put(out->name, &len, " ", 1);
    put_uint(out->name, &len, 100 + rng_below(&r, 900));

    out->price = (double)(100 + rng_below(&r, 99900)) / 100.0;
    out->category_id = 1 + rng_below(&r, 200);
    put_random_time(&r, unix_time(2021, 6, 1), unix_time(2025, 1, 1), out->created_at);
}

void hp_demo_product_detail(const hp_demo_t *demo, int64_t id, hp_demo_product_detail_t *out)
{
    rng_t r;
    rng_seed(&r, demo, HP_DEMO_PRODUCT_DETAILS, id, 0);
    out->product_id = id;
    put_sentences(&r, out->description, sizeof(out->description), 450 + rng_below(&r, 101));
    put_specifications(&r, out->specifications, sizeof(out->specifications),
                       270 + rng_below(&r, 61));
}

static const char *const order_statuses[] = {"completed", "pending", "processing", "cancelled"};

void hp_demo_order(const hp_demo_t *demo, int64_t id, hp_demo_order_t *out)
{
    rng_t r;
    rng_seed(&r, demo, HP_DEMO_ORDERS, id, 0);
    out->id = id;
    out->user_id = 1 + (int64_t)(rng_next(&r) % (uint64_t)demo->row_count[HP_DEMO_USERS]);

    uint32_t p = rng_below(&r, 100);
    const char *status = order_statuses[p < 70 ? 0 : p < 80 ? 1 : p < 90 ? 2 : 3];
    size_t len = 0;
    put(out->status, &len, status, strlen(status));

    out->total = (double)(500 + rng_below(&r, 199501)) / 100.0;
    put_random_time(&r, unix_time(2024, 1, 1), unix_time(2025, 7, 1), out->created_at);
}

static const char *const device_statuses[] = {"active", "inactive", "maintenance"};

void hp_demo_device(const hp_demo_t *demo, int64_t id, hp_demo_device_t *out)
{
    rng_t r;
    rng_seed(&r, demo, HP_DEMO_DEVICES, id, 0);
    out->id = id;

    size_t len = 0;
    put_word(out->name, &len, &places[rng_below(&r, PLACE_COUNT)]);
    put(out->name, &len, "-sensor-", 8);
    put_uint(out->name, &len, (uint64_t)id);

    uint32_t p = rng_below(&r, 100);
    const char *status = device_statuses[p < 70 ? 0 : p < 90 ? 1 : 2];
    size_t slen = 0;
    put(out->status, &slen, status, strlen(status));
}

/* Readings run from this instant over 400 days, evenly by id. */
#define READINGS_START_Y 2024
#define READINGS_SPAN_SECONDS (400 * 86400)

void hp_demo_reading(const hp_demo_t *demo, int64_t id, hp_demo_reading_t *out)
{
    rng_t r;
    rng_seed(&r, demo, HP_DEMO_READINGS, id, 0);
    out->id = id;
    out->device_id = 1 + (int64_t)(rng_next(&r) % (uint64_t)demo->row_count[HP_DEMO_DEVICES]);

    /* Each device has its own base temperature (18.00..25.99), drawn from a stream of the
     * device's id so it needs no device row. */
    rng_t dev;
    rng_seed(&dev, demo, HP_DEMO_DEVICES, out->device_id, 1);
    int64_t base_centi = 1800 + rng_below(&dev, 800);
    int64_t centi = base_centi + (int64_t)rng_below(&r, 1601) - 800;
    out->temperature = (double)centi / 100.0;

    int64_t count = demo->row_count[HP_DEMO_READINGS];
    int64_t offset = (id - 1) * (int64_t)READINGS_SPAN_SECONDS / count;
    hp_demo_format_time(unix_time(READINGS_START_Y, 5, 1) + offset, out->ts);
}

/* --- generic rows --- */

static void set_int(hp_demo_value_t *v, hp_demo_coltype_t type, int64_t i)
{
    v->type = type;
    v->i = i;
    v->r = 0;
    v->s = NULL;
    v->len = 0;
}

static void set_real(hp_demo_value_t *v, double r)
{
    v->type = HP_DEMO_REAL;
    v->i = 0;
    v->r = r;
    v->s = NULL;
    v->len = 0;
}

static void set_text(hp_demo_value_t *v, hp_demo_coltype_t type, const char *s)
{
    v->type = type;
    v->i = 0;
    v->r = 0;
    v->s = s;
    v->len = strlen(s);
}

void hp_demo_row(const hp_demo_t *demo, hp_demo_table_id_t table, int64_t id, hp_demo_row_t *row)
{
    hp_demo_value_t *v = row->values;
    switch (table) {
    case HP_DEMO_USERS: {
        hp_demo_user_t *u = &row->u.user;
        hp_demo_user(demo, id, u);
        set_int(&v[0], HP_DEMO_INTEGER, u->id);
        set_text(&v[1], HP_DEMO_TEXT, u->username);
        set_text(&v[2], HP_DEMO_TEXT, u->email);
        set_int(&v[3], HP_DEMO_BOOLEAN, u->active);
        set_text(&v[4], HP_DEMO_TIMESTAMP, u->created_at);
        set_text(&v[5], HP_DEMO_TEXT, u->bio);
        break;
    }
    case HP_DEMO_PRODUCTS: {
        hp_demo_product_t *p = &row->u.product;
        hp_demo_product(demo, id, p);
        set_int(&v[0], HP_DEMO_INTEGER, p->id);
        set_text(&v[1], HP_DEMO_TEXT, p->name);
        set_real(&v[2], p->price);
        set_int(&v[3], HP_DEMO_INTEGER, p->category_id);
        set_text(&v[4], HP_DEMO_TIMESTAMP, p->created_at);
        break;
    }
    case HP_DEMO_PRODUCT_DETAILS: {
        hp_demo_product_detail_t *d = &row->u.product_detail;
        hp_demo_product_detail(demo, id, d);
        set_int(&v[0], HP_DEMO_INTEGER, d->product_id);
        set_text(&v[1], HP_DEMO_TEXT, d->description);
        set_text(&v[2], HP_DEMO_TEXT, d->specifications);
        break;
    }
    case HP_DEMO_ORDERS: {
        hp_demo_order_t *o = &row->u.order;
        hp_demo_order(demo, id, o);
        set_int(&v[0], HP_DEMO_INTEGER, o->id);
        set_int(&v[1], HP_DEMO_INTEGER, o->user_id);
        set_text(&v[2], HP_DEMO_TEXT, o->status);
        set_real(&v[3], o->total);
        set_text(&v[4], HP_DEMO_TIMESTAMP, o->created_at);
        break;
    }
    case HP_DEMO_DEVICES: {
        hp_demo_device_t *d = &row->u.device;
        hp_demo_device(demo, id, d);
        set_int(&v[0], HP_DEMO_INTEGER, d->id);
        set_text(&v[1], HP_DEMO_TEXT, d->name);
        set_text(&v[2], HP_DEMO_TEXT, d->status);
        break;
    }
    case HP_DEMO_READINGS: {
        hp_demo_reading_t *g = &row->u.reading;
        hp_demo_reading(demo, id, g);
        set_int(&v[0], HP_DEMO_INTEGER, g->id);
        set_int(&v[1], HP_DEMO_INTEGER, g->device_id);
        set_real(&v[2], g->temperature);
        set_text(&v[3], HP_DEMO_TIMESTAMP, g->ts);
        break;
    }
    case HP_DEMO_TABLE_COUNT: break;
    }
}
