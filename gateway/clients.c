/* gatewayd's clients command: each client's tunnel state as the device has
 * it, and what the kernel counts for it (flows in conntrack, refusals in the
 * policy's drop set). The device is read on the loop thread into a snapshot;
 * the kernel is asked on the worker, which then builds the reply. */
#include "gateway/clients.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/config.h"
#include "gateway/control.h"
#include "gateway/ct.h"
#include "gateway/enforce.h"
#include "gateway/nft.h"
#include "policy/policy.h"
#include "tunnel/ctl.h"
#include "tunnel/prefix.h"
#include "tunnel/wg.h"

/* An authenticated packet within this long: the client is connected. */
#define CONNECTED_NS (180 * 1000000000ull)

/* What the reply shows of a configured client: a copy, since the list may
 * change (client add, SIGHUP) while the job waits for the worker. */
struct client {
	char name[GW_NAME_MAX];
	struct prefix addr, addr6;
	bool has_addr6;
	uint32_t id;
	size_t pos; /* in the configuration */
};

struct row {
	struct client c;
	struct wg_peer_stats st;
	bool connected;
	uint64_t flows, drops;
};

struct snapshot {
	uint32_t mark_tag, mark_id_mask;
	struct nft_owner *nft; /* NULL: no policy (tests), no drops */
	struct row *rows;      /* sorted by mark */
	size_t n;
};

static int row_by_name(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->c.name, ((const struct row *)b)->c.name);
}

static int row_by_id(const void *a, const void *b)
{
	uint32_t x = ((const struct row *)a)->c.id, y = ((const struct row *)b)->c.id;

	return x < y ? -1 : x > y;
}

static struct row *find_id(struct snapshot *s, uint32_t id)
{
	struct row key = {.c.id = id};

	return bsearch(&key, s->rows, s->n, sizeof(*s->rows), row_by_id);
}

static void snapshot_free(void *arg)
{
	struct snapshot *s = arg;

	free(s->rows);
	free(s);
}

/* On the loop: the device's figures for every configured client. A peer
 * is matched to its client by name, through the rows sorted by name. */
static int take(const struct control_view *v, struct snapshot **out)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	uint64_t now = wg_now();
	struct wg_peer *p;

	if (!s)
		return -ENOMEM;
	s->mark_tag = v->cfg->mark_tag;
	s->mark_id_mask = v->cfg->mark_id_mask;
	s->nft = v->policy ? enforce_nft(v->policy) : NULL;
	s->n = v->cfg->n_clients;
	s->rows = calloc(s->n + 1, sizeof(*s->rows));
	if (!s->rows) {
		snapshot_free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct gw_client *c = &v->cfg->clients[i];

		s->rows[i].c = (struct client){.addr = c->addr,
		                               .addr6 = c->addr6,
		                               .has_addr6 = c->has_addr6,
		                               .id = c->id,
		                               .pos = i};
		snprintf(s->rows[i].c.name, sizeof(s->rows[i].c.name), "%s", c->name);
	}
	qsort(s->rows, s->n, sizeof(*s->rows), row_by_name);
	for (size_t i = 0; (p = wg_device_peer(v->dev, i)); i++) {
		struct row key, *r;

		snprintf(key.c.name, sizeof(key.c.name), "%s", wg_peer_name(p));
		r = bsearch(&key, s->rows, s->n, sizeof(*s->rows), row_by_name);
		if (!r)
			continue;
		wg_peer_stats(p, now, &r->st);
		r->connected = clients_connected(&r->st, now);
	}
	qsort(s->rows, s->n, sizeof(*s->rows), row_by_id);
	*out = s;
	return 0;
}

bool clients_connected(const struct wg_peer_stats *st, uint64_t now)
{
	return st->last_rx_ns && now - st->last_rx_ns < CONNECTED_NS;
}

/* On the worker: the kernel's counts, by the client id in the mark. */
static int count_flow(void *arg, const struct ct_entry *e)
{
	struct snapshot *s = arg;
	struct row *r = find_id(s, e->flow.mark & s->mark_id_mask);

	if (r)
		r->flows++;
	return 0;
}

static int count_drops(void *arg, uint64_t mark, uint64_t packets, uint64_t bytes)
{
	struct snapshot *s = arg;
	struct row *r;

	(void)bytes;
	if ((mark & ~(uint64_t)s->mark_id_mask) != s->mark_tag)
		return 0;
	r = find_id(s, (uint32_t)mark & s->mark_id_mask);
	if (r)
		r->drops = packets;
	return 0;
}

static json_t *endpoint_json(const struct wg_peer_stats *st)
{
	char buf[WG_ENDPOINT_STRLEN];

	if (!st->has_endpoint)
		return json_null();
	wg_format_endpoint(&st->endpoint, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *row_json(const struct row *r)
{
	char a4[PREFIX_STRLEN], a6[PREFIX_STRLEN], when[32] = "";
	time_t t = (time_t)r->st.last_handshake_unix;
	struct tm tm;

	if (t && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack(
	        "{s:s, s:s, s:o, s:o, s:o, s:I, s:b, s:I, s:I, s:I, s:I}", "name", r->c.name,
	        "address", prefix_format_addr(&r->c.addr, a4, sizeof(a4)), "address6",
	        r->c.has_addr6 ? json_string(prefix_format_addr(&r->c.addr6, a6, sizeof(a6)))
	                       : json_null(),
	        "endpoint", endpoint_json(&r->st), "last_handshake",
	        when[0] ? json_string(when) : json_null(), "last_handshake_unix", (json_int_t)t,
	        "connected", r->connected, "rx_bytes", (json_int_t)r->st.rx_bytes, "tx_bytes",
	        (json_int_t)r->st.tx_bytes, "flows", (json_int_t)r->flows, "policy_drops",
	        (json_int_t)r->drops);
}

static int row_by_pos(const void *a, const void *b)
{
	size_t x = ((const struct row *)a)->c.pos, y = ((const struct row *)b)->c.pos;

	return x < y ? -1 : x > y;
}

static int work(void *arg, json_t **data, char *err, size_t errlen)
{
	struct snapshot *s = arg;
	json_t *list;
	int ret;

	ret = ct_list(s->mark_tag, ~s->mark_id_mask, count_flow, s);
	if (ret < 0) {
		snprintf(err, errlen, "cannot read conntrack: %s", strerror(-ret));
		return ret;
	}
	if (s->nft) {
		ret = nft_set_counters(s->nft, POLICY_DROPS_SET, count_drops, s, err, errlen);
		if (ret < 0)
			return ret;
	}
	/* In the configuration's order, as the operator wrote them. */
	qsort(s->rows, s->n, sizeof(*s->rows), row_by_pos);
	list = json_array();
	for (size_t i = 0; list && i < s->n; i++)
		if (json_array_append_new(list, row_json(&s->rows[i])) < 0) {
			json_decref(list);
			list = NULL;
		}
	*data = list;
	return list ? 0 : -ENOMEM;
}

int clients_cmd_list(const struct control_view *v, struct ctl_request *req, json_t **data,
                     char *err, size_t errlen)
{
	static const char *const known[] = {NULL};
	struct snapshot *s;
	int ret;

	ret = ctl_args_check(req->args, known, err, errlen);
	if (ret)
		return ret;
	ret = take(v, &s);
	if (ret)
		return ret;
	return control_defer(v, req, work, snapshot_free, s, data, err, errlen);
}
