/*
 * The "shopiot" demo data set of docs/workload.md, generated deterministically: the same seed and
 * scale give the same rows, byte for byte, on every run, machine and backend. Backend-neutral:
 * this module includes no database header; db/sqlite/demo_load.c and db/pg/demo_load.c write
 * what it generates.
 *
 * Every row is a pure function of (seed, table, id): it is derived from a splitmix64 stream
 * keyed by those three, so rows can be generated in any order, in parallel, or one at a time
 * in a test, and a foreign key can name a parent without generating it. Ids run 1..row count
 * in every table; foreign keys always point at an existing row of the scaled parent table.
 * Only integer arithmetic and correctly rounded divisions by 100 produce values, so doubles are
 * identical across compilers and machines (under IEEE arithmetic: not with -ffast-math, which
 * turns x / 100 into x * 0.01).
 *
 * Thread-safe: the tables are constant and a hp_demo_t is read-only once initialised.
 */
#ifndef HP_DEMO_DATASET_H
#define HP_DEMO_DATASET_H

#include <stddef.h>
#include <stdint.h>

/* The seed `hotpath demo` and `make bench` use unless told otherwise. */
#define HP_DEMO_DEFAULT_SEED 1

/* Largest scale accepted (100 x the full 3.15 M rows); keeps every count far from overflow. */
#define HP_DEMO_MAX_SCALE 100.0

/* Tables in load order: every parent comes before its children. */
typedef enum {
    HP_DEMO_USERS,
    HP_DEMO_PRODUCTS,
    HP_DEMO_PRODUCT_DETAILS,
    HP_DEMO_ORDERS,
    HP_DEMO_DEVICES,
    HP_DEMO_READINGS,
    HP_DEMO_TABLE_COUNT
} hp_demo_table_id_t;

/* Logical column types; a loader maps them to its own declared types (SQLite: INTEGER, REAL,
 * TEXT, BOOLEAN, and TEXT for TIMESTAMP; PostgreSQL: bigint, double precision, text, boolean,
 * and text for TIMESTAMP, so both read back as the same JSON). TIMESTAMP values are ISO-8601
 * UTC text, "2025-03-04T05:06:07Z", which sorts chronologically as bytes. */
typedef enum {
    HP_DEMO_INTEGER,
    HP_DEMO_REAL,
    HP_DEMO_TEXT,
    HP_DEMO_BOOLEAN,
    HP_DEMO_TIMESTAMP,
} hp_demo_coltype_t;

typedef struct {
    const char *name;
    hp_demo_coltype_t type;
    int is_pk;              /* the table's single-column primary key */
    const char *references; /* name of the table whose id this column references, or NULL */
} hp_demo_column_t;

/* Most columns of any demo table. */
#define HP_DEMO_MAX_COLUMNS 6

typedef struct {
    const char *name;
    const hp_demo_column_t *columns;
    size_t column_count;
    int64_t full_row_count; /* rows at scale 1.0 */
} hp_demo_table_t;

/* A secondary index of the "after" schema (the same on every backend). */
typedef struct {
    const char *name;
    const char *table;
    const char *columns; /* comma-separated column list, as it appears in CREATE INDEX */
} hp_demo_index_t;

/* Column descriptions of table `id` (a valid hp_demo_table_id_t). Static storage. */
const hp_demo_table_t *hp_demo_table(hp_demo_table_id_t id);
/* The indexes; *count receives how many. Static storage. */
const hp_demo_index_t *hp_demo_indexes(size_t *count);

/* --- a data set: seed + scale --- */

typedef struct {
    uint64_t seed;
    double scale;
    int64_t row_count[HP_DEMO_TABLE_COUNT]; /* ids of table t run 1..row_count[t] */
} hp_demo_t;

/* Fixes the seed and the scale (1.0 = the full data set; counts scale linearly, rounded, and
 * never drop below 1 row). products and product_details always have the same count.
 * Returns 0, or -1 when scale is not a number in (0, HP_DEMO_MAX_SCALE]. */
int hp_demo_init(hp_demo_t *demo, double scale, uint64_t seed);

/* --- typed rows --- */

/* Caps (bytes, including the NUL) of the generated text fields. */
#define HP_DEMO_TS_CAP 21 /* "YYYY-MM-DDTHH:MM:SSZ" */
#define HP_DEMO_NAME_CAP 48
#define HP_DEMO_EMAIL_CAP 80
#define HP_DEMO_STATUS_CAP 16
#define HP_DEMO_BIO_CAP 280
#define HP_DEMO_DESCRIPTION_CAP 640
#define HP_DEMO_SPECIFICATIONS_CAP 400

typedef struct {
    int64_t id;
    char username[HP_DEMO_NAME_CAP]; /* unique: it ends with the id */
    char email[HP_DEMO_EMAIL_CAP];   /* unique: built from username */
    int active;                      /* 1 for about 80% of users */
    char created_at[HP_DEMO_TS_CAP];
    char bio[HP_DEMO_BIO_CAP]; /* about 200 chars */
} hp_demo_user_t;

typedef struct {
    int64_t id;
    char name[HP_DEMO_NAME_CAP];
    double price;        /* 1.00 .. 999.99, whole cents */
    int64_t category_id; /* 1..200 */
    char created_at[HP_DEMO_TS_CAP];
} hp_demo_product_t;

typedef struct {
    int64_t product_id;                              /* = the product's id (1:1) */
    char description[HP_DEMO_DESCRIPTION_CAP];       /* about 500 chars */
    char specifications[HP_DEMO_SPECIFICATIONS_CAP]; /* about 300 chars, "key: value; ..." */
} hp_demo_product_detail_t;

typedef struct {
    int64_t id;
    int64_t user_id;
    char status[HP_DEMO_STATUS_CAP]; /* completed 70%; pending, processing, cancelled 10% each */
    double total;                    /* 5.00 .. 2000.00, whole cents */
    char created_at[HP_DEMO_TS_CAP];
} hp_demo_order_t;

typedef struct {
    int64_t id;
    char name[HP_DEMO_NAME_CAP];
    char status[HP_DEMO_STATUS_CAP]; /* active 70%, inactive 20%, maintenance 10% */
} hp_demo_device_t;

typedef struct {
    int64_t id;
    int64_t device_id;
    double temperature;      /* degrees C, two decimals, about 10..40 */
    char ts[HP_DEMO_TS_CAP]; /* non-decreasing with id, spread evenly over 400 days */
} hp_demo_reading_t;

/* Each fills *out with row `id` (1..row_count of its table) of the data set. */
void hp_demo_user(const hp_demo_t *demo, int64_t id, hp_demo_user_t *out);
void hp_demo_product(const hp_demo_t *demo, int64_t id, hp_demo_product_t *out);
void hp_demo_product_detail(const hp_demo_t *demo, int64_t id, hp_demo_product_detail_t *out);
void hp_demo_order(const hp_demo_t *demo, int64_t id, hp_demo_order_t *out);
void hp_demo_device(const hp_demo_t *demo, int64_t id, hp_demo_device_t *out);
void hp_demo_reading(const hp_demo_t *demo, int64_t id, hp_demo_reading_t *out);

/* --- generic rows, for loaders that walk the column lists --- */

typedef struct {
    hp_demo_coltype_t type;
    int64_t i;     /* INTEGER, BOOLEAN (0/1) */
    double r;      /* REAL */
    const char *s; /* TEXT, TIMESTAMP: points into the hp_demo_row_t that holds the value */
    size_t len;    /* bytes at s, no NUL counted */
} hp_demo_value_t;

typedef struct {
    union {
        hp_demo_user_t user;
        hp_demo_product_t product;
        hp_demo_product_detail_t product_detail;
        hp_demo_order_t order;
        hp_demo_device_t device;
        hp_demo_reading_t reading;
    } u;
    /* values[k] is column k of hp_demo_table(table)->columns; valid until the next call. */
    hp_demo_value_t values[HP_DEMO_MAX_COLUMNS];
} hp_demo_row_t;

/* Generates row `id` of `table` into *row (typed in row->u, column by column in row->values). */
void hp_demo_row(const hp_demo_t *demo, hp_demo_table_id_t table, int64_t id, hp_demo_row_t *row);

/* Writes the ISO-8601 UTC text of a Unix time (seconds) into out[HP_DEMO_TS_CAP]. */
void hp_demo_format_time(int64_t unix_seconds, char *out);

/* --- loaders --- */

/* How a loader (db/sqlite/demo_load.h, db/pg/demo_load.h) reports its progress: called after
 * each step, `step` is a table name (rows = rows written), or "indexes" or "analyze" (rows =
 * -1), with the seconds that step took; last comes "finish" (rows = -1) with the seconds of
 * the whole load, once the data is in place. */
typedef void (*hp_demo_progress_cb)(void *ctx, const char *step, int64_t rows, double seconds);

#endif
