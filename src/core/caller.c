#include "core/caller.h"

const hp_caller_t hp_caller_anonymous = {{NULL, 0}, {NULL, 0}, 0};
