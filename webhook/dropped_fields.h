/* Warnings for what an offloaded Job loses: pod and container fields that
 * have no Azure Batch counterpart (volumes, probes, sidecars, scheduling...). */
#ifndef DROPPED_FIELDS_H
#define DROPPED_FIELDS_H

#include "admission_warnings.h"
#include "json_reader.h"

/* Adds one warning per meaningful field of the pod spec, of the worker (the
 * first container), and per extra container. */
void dropped_fields_warn(const json_document *doc, int pod_spec,
                         admission_warnings *warnings);

#endif
