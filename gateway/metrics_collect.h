/* One scrape's figures and its text, in the two halves gateway/metrics.c
 * runs them in: the device's counters copied on the loop's thread, which
 * writes them (metrics_collect_new); what the kernel counts, read, and the
 * text rendered on the worker (metrics_collect_run). */
#ifndef EGRESS_GATEWAY_METRICS_COLLECT_H
#define EGRESS_GATEWAY_METRICS_COLLECT_H

#include <stddef.h>
#include <stdint.h>

struct metrics_collect;
struct metrics_view;

/* On the loop's thread: a copy of the device's counters now, each peer's
 * and the device's. v is copied; its pointers must outlive the collect.
 * NULL with errno ENOMEM. */
struct metrics_collect *metrics_collect_new(const struct metrics_view *v, uint64_t start_time);
/* On the worker: the clients' flows (conntrack), the policy's counters and
 * drop set (nft), nf_conntrack_count and _max, and the text. It reads the
 * policy in force and the configuration's client list, which the loop
 * changes only between worker jobs. A source that cannot be read is left
 * out of the text (egress_collector_success says which). */
void metrics_collect_run(struct metrics_collect *c);
/* The text of the run, taken by the caller (malloc'd, *len bytes), or NULL
 * when it ran out of memory. */
char *metrics_collect_text(struct metrics_collect *c, size_t *len);
/* Accepts NULL. */
void metrics_collect_free(struct metrics_collect *c);

#endif
