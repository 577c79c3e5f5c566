/* Clocks and Azure's time formats; see clock.h. */
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

uint64_t clock_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t clock_monotonic_ms(void)
{
    return clock_monotonic_ns() / 1000000u;
}

void clock_http_date(time_t t, char out[32])
{
    /* Fixed English names: strftime's %a and %b follow the locale. */
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm utc;
    gmtime_r(&t, &utc);
    snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[utc.tm_wday], utc.tm_mday,
             months[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

void clock_iso8601(time_t t, char out[32])
{
    struct tm utc;
    gmtime_r(&t, &utc);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &utc); /* digits only: locale-independent */
}

bool clock_iso8601_parse(const char *text, time_t *out)
{
    int year, month, day, hour, minute, second, used = 0;
    if (!text || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &year, &month, &day, &hour, &minute,
                        &second, &used) != 6 ||
        used != 20 || text[used] != '\0')
        return false;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
        return false;
    struct tm utc = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                     .tm_hour = hour, .tm_min = minute, .tm_sec = second};
    *out = timegm(&utc);
    return true;
}

void clock_iso8601_duration(int64_t seconds, char out[32])
{
    snprintf(out, 32, "PT%" PRId64 "S", seconds);
}

void clock_sleep_ms(uint64_t ms, volatile const int *stop)
{
    uint64_t end = clock_monotonic_ms() + ms;
    for (;;) {
        if (stop && *stop)
            return;
        uint64_t now = clock_monotonic_ms();
        if (now >= end)
            return;
        uint64_t step = end - now < 100 ? end - now : 100;
        struct timespec pause = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR && !(stop && *stop)) {
        }
    }
}
