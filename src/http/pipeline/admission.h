/*
 * The admission step: whether the server takes the request on at all, before any work is done
 * for it. Today: the sizes the client controls (query string, body) against their caps
 * (core/limits.h, max-body-bytes): 414 / 413. Per-caller rate limits and overload protection
 * go here (the caller is known by now).
 */
#ifndef HP_HTTP_PIPELINE_ADMISSION_H
#define HP_HTTP_PIPELINE_ADMISSION_H

#include "http/pipeline/pipeline.h"

hp_step_result_t hp_step_admission(hp_call_t *call);

#endif
