/* Time as the Azure APIs write it, and the monotonic clock for deadlines. */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

uint64_t clock_monotonic_ms(void);
uint64_t clock_monotonic_ns(void);
/* RFC 7231 (IMF-fixdate): "Mon, 23 Nov 2026 18:00:00 GMT" (ocp-date, x-ms-date). */
void clock_http_date(time_t t, char out[32]);
/* ISO 8601 UTC, seconds: "2026-11-23T18:00:00Z" (SAS st/se). */
void clock_iso8601(time_t t, char out[32]);
/* Reads what clock_iso8601 writes (and only that); false for anything else. */
bool clock_iso8601_parse(const char *text, time_t *out);
/* ISO 8601 duration of whole seconds: "PT3600S" (Batch maxWallClockTime). */
void clock_iso8601_duration(int64_t seconds, char out[32]);
/* Sleeps up to ms, in steps, returning early when *stop becomes non-zero. */
void clock_sleep_ms(uint64_t ms, volatile const int *stop);

#endif
