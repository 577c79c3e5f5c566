/* Constant JSON fragments; see json_fragment.h. The first caller writes the
 * text under the lock; `ready`, set last with release order, lets every
 * later caller copy it without taking the lock. */
#include "json_fragment.h"

static void write_once(json_fragment *f)
{
    pthread_mutex_lock(&f->lock);
    if (!atomic_load_explicit(&f->ready, memory_order_relaxed)) {
        json_writer w;
        buffer_init(&f->text, 0);
        json_writer_init(&w, &f->text);
        f->write(&w);
        if (!json_writer_finish(&w))
            f->text.failed = true;
        atomic_store_explicit(&f->ready, true, memory_order_release);
    }
    pthread_mutex_unlock(&f->lock);
}

void json_fragment_copy(json_writer *w, json_fragment *f)
{
    if (!atomic_load_explicit(&f->ready, memory_order_acquire))
        write_once(f);
    if (!buffer_ok(&f->text) || f->text.len == 0) {
        w->out->failed = true;
        return;
    }
    json_raw_value(w, f->text.data, f->text.len);
}
