/* libFuzzer target for the flow log's parser of outside input: the bytes of
 * one read of conntrack's event socket (ctnetlink messages from the
 * kernel), decoded by ct_events_parse() under our mark and under any mark,
 * each entry made into the log's JSON line. Any input must decode or be
 * refused, never crash, leak or read past its end; a line always encodes.
 * Seeds: a NEW of TCP over IPv4, a DESTROY of UDP over IPv6 with counters
 * and stamps, and both in one read (corpus/fuzz_flowlog). */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/ct.h"
#include "gateway/flowlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int line(void *arg, enum ct_event type, const struct ct_entry *e)
{
	struct flowlog_event ev = {.kind = type == CT_EVENT_DESTROY ? FLOWLOG_END : FLOWLOG_NEW,
	                           .entry = *e,
	                           .client = "fuzz",
	                           .time_ns = e->stop_ns,
	                           .start_ns = e->start_ns,
	                           .end_ns = e->stop_ns};
	json_t *j;
	char *t;

	if (ev.kind == FLOWLOG_END)
		ev.reason = flowlog_end_reason(e);
	j = flowlog_event_json(&ev);
	t = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (!t)
		__builtin_trap();
	free(t);
	json_decref(j);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, aligned as a read buffer is. */
	void *buf = malloc(size ? size : 1);
	int a, b;

	memcpy(buf, data, size);
	a = ct_events_parse(buf, size, 0x45670000u, 0xffff0000u, line, NULL);
	b = ct_events_parse(buf, size, 0, 0, line, NULL);
	if ((a < 0 && a != -EBADMSG && a != -ENOMEM) || (b < 0 && b != -EBADMSG && b != -ENOMEM))
		__builtin_trap();
	free(buf);
	return 0;
}
