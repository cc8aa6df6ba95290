/* Tests for src/http/pipeline/route.c's pure part: what a request path names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "http/pipeline/route.h"

static void test_paths(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        hp_route_t route;
        const char *resource; /* for HP_ROUTE_TABLE */
    } cases[] = {
        {"", HP_ROUTE_ROOT, NULL},
        {"/", HP_ROUTE_ROOT, NULL},
        {"/_/batch", HP_ROUTE_BULK, NULL},
        {"/users", HP_ROUTE_TABLE, "users"},
        {"/users/", HP_ROUTE_TABLE, "users"},
        {"/order%20lines", HP_ROUTE_TABLE, "order lines"},
        {"/caf%C3%A9", HP_ROUTE_TABLE, "caf\xc3\xa9"},
        {"/_/batch/", HP_ROUTE_NONE, NULL}, /* "_/batch" is no table name */
        {"/users/1", HP_ROUTE_NONE, NULL},
        {"/rpc/fn", HP_ROUTE_NONE, NULL},
        {"//", HP_ROUTE_NONE, NULL},
        {"/bad%zz", HP_ROUTE_NONE, NULL},
        {"/bad%4", HP_ROUTE_NONE, NULL},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        h2o_mem_pool_t pool;
        h2o_mem_init_pool(&pool);
        h2o_iovec_t resource = {NULL, 0};
        hp_route_t got =
            hp_route_path(h2o_iovec_init(cases[i].path, strlen(cases[i].path)), &resource, &pool);
        if (got != cases[i].route)
            fail_msg("%s: route %d, expected %d", cases[i].path, got, cases[i].route);
        if (cases[i].resource != NULL)
            assert_true(h2o_memis(resource.base, resource.len, cases[i].resource,
                                  strlen(cases[i].resource)));
        h2o_mem_clear_pool(&pool);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
