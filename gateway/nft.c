/* table inet egress: render the text, hand it to libnftables as one batch.
 *
 * The text is what an operator reads (`gatewayctl policy show --nft`) and
 * what the golden tests compare, so it is built line by line in a fixed
 * order with comments, and every rule has a counter. */
#include <errno.h>
#include <net/if.h>
#include <jansson.h>
#include <malloc.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gateway/nft.h"
#include "tunnel/conf.h"
#include "tunnel/file.h"
#include "tunnel/prefix.h"

#define NAME_MAX_LEN 31

/* Created empty first so the delete cannot fail when the table is absent;
 * both run in the same batch as what follows them, so the kernel commits the
 * whole of it or none. The owner flag must be there too: the kernel refuses
 * to change it on an existing table. No newline: joined to the text's first
 * line, so line numbers in error messages are the text's own. */
#define REPLACE_PREFIX \
	"table inet " NFT_TABLE " { flags owner; }; delete table inet " NFT_TABLE "; "

struct nft_owner {
	struct nft_ctx *ctx; /* its netlink socket owns the table */
};

uint32_t nft_client_mark(uint32_t tag, uint32_t id)
{
	return tag | id;
}

static bool uplink_set(const struct nft_params *p)
{
	return p->uplink && p->uplink[0];
}

static bool params_ok(const struct nft_params *p)
{
	size_t i;

	if (!conf_name_ok(p->ifname, IFNAMSIZ - 1))
		return false;
	if (uplink_set(p) &&
	    (!conf_name_ok(p->uplink, IFNAMSIZ - 1) || !strcmp(p->uplink, p->ifname)))
		return false;
	if (p->net.family != AF_INET || p->net.len > 32 ||
	    (p->has_net6 && (p->net6.family != AF_INET6 || p->net6.len > 128)))
		return false;
	if (p->mtu < 1280 || p->mtu > 9000)
		return false;
	/* the mask must be low bits only, and the tag must stay out of them */
	if (!p->mark_id_mask || (p->mark_id_mask & (p->mark_id_mask + 1)) ||
	    (p->mark_tag & p->mark_id_mask))
		return false;
	if (p->n_clients && !p->clients)
		return false;

	for (i = 0; i < p->n_clients; i++) {
		const struct nft_client *c = &p->clients[i];

		if (!conf_name_ok(c->name, NAME_MAX_LEN) || (c->id & ~p->mark_id_mask))
			return false;
		if (!prefix_contains(&p->net, &c->addr))
			return false;
		if (c->has_addr6 && (!p->has_net6 || !prefix_contains(&p->net6, &c->addr6)))
			return false;
	}
	return true;
}

static void render_map(FILE *f, const struct nft_params *p, bool v6)
{
	char a[PREFIX_STRLEN];
	size_t i, n = 0;

	fprintf(f, "\tmap client_mark%s {\n", v6 ? "6" : "");
	fprintf(f, "\t\ttype %s : mark\n", v6 ? "ipv6_addr" : "ipv4_addr");
	for (i = 0; i < p->n_clients; i++) {
		const struct nft_client *c = &p->clients[i];

		if (v6 && !c->has_addr6)
			continue;
		prefix_format_addr(v6 ? &c->addr6 : &c->addr, a, sizeof(a));
		fprintf(f, "%s\t\t\t%s comment \"%s\" : 0x%08x", n ? ",\n" : "\t\telements = {\n",
		        a, c->name, nft_client_mark(p->mark_tag, c->id));
		n++;
	}
	if (n)
		fprintf(f, "\n\t\t}\n");
	fprintf(f, "\t}\n\n");
}

/* New flows from the TUN: ct mark = tag | client id, by tunnel source
 * address (the maps client_mark and client_mark6). */
static void put_mark_rules(FILE *f, const struct nft_params *p)
{
	const char *tun = p->ifname;

	fprintf(f,
	        "\t\tiifname \"%s\" ct state new ct mark set ip saddr map @client_mark counter\n",
	        tun);
	if (p->has_net6)
		fprintf(f,
		        "\t\tiifname \"%s\" ct state new ct mark set ip6 saddr map @client_mark6 counter\n",
		        tun);
}

static void render_forward(FILE *f, const struct nft_params *p)
{
	const char *tun = p->ifname;

	fprintf(f, "\tchain forward {\n");
	fprintf(f, "\t\ttype filter hook forward priority filter; policy accept;\n\n");

	fprintf(f,
	        "\t\t# TCP MSS clamping, both directions; the kernel only ever lowers an MSS.\n");
	fprintf(f, "\t\t# Into the tunnel: to the route's MTU, the TUN's.\n");
	fprintf(f, "\t\toifname \"%s\" tcp flags syn counter tcp option maxseg size set rt mtu\n",
	        tun);
	fprintf(f,
	        "\t\t# Out of it: to the uplink route's MTU, and to what fits back into the TUN (mtu %u).\n",
	        p->mtu);
	fprintf(f, "\t\tiifname \"%s\" tcp flags syn counter tcp option maxseg size set rt mtu\n",
	        tun);
	fprintf(f,
	        "\t\tiifname \"%s\" meta nfproto ipv4 tcp flags syn counter tcp option maxseg size set %u\n",
	        tun, p->mtu - 40);
	if (p->has_net6)
		fprintf(f,
		        "\t\tiifname \"%s\" meta nfproto ipv6 tcp flags syn counter tcp option maxseg size set %u\n",
		        tun, p->mtu - 60);
	fprintf(f, "\n");

	fprintf(f, "\t\tct state established,related counter accept\n");
	fprintf(f, "\t\t# What conntrack cannot place skips NAT too: it would leave with its\n");
	fprintf(f, "\t\t# tunnel address.\n");
	fprintf(f, "\t\tiifname \"%s\" ct state invalid counter drop\n", tun);
	fprintf(f, "\t\t# A new TCP flow starts with a SYN: a packet of one whose entry was\n");
	fprintf(f, "\t\t# deleted (flows kill, policy apply --kill-denied) gets a reset, not a\n");
	fprintf(f, "\t\t# new entry that would carry the connection on.\n");
	fprintf(f,
	        "\t\tiifname \"%s\" ct state new tcp flags & (fin | syn | rst | ack) != syn counter "
	        "reject with tcp reset\n\n",
	        tun);

	fprintf(f,
	        "\t\t# New flows from the tunnel: ct mark = tag | client id, by tunnel source address.\n");
	put_mark_rules(f, p);
	fprintf(f, "\t\tiifname \"%s\" counter accept\n\n", tun);
	fprintf(f,
	        "\t\t# The clients are behind NAT: nothing else opens a flow into the tunnel.\n");
	fprintf(f, "\t\toifname \"%s\" counter drop\n", tun);
	fprintf(f, "\t}\n\n");
}

/* The policy's input chain (policy/render.c) finds a client's rules by ct
 * mark, as its forward chain does: the mark is set here the same way, before
 * it (priority filter - 10), on new flows from the TUN to this host. */
static void render_input(FILE *f, const struct nft_params *p)
{
	fprintf(f, "\tchain input {\n");
	fprintf(f, "\t\ttype filter hook input priority filter - 10; policy accept;\n\n");
	fprintf(f, "\t\t# New flows from the tunnel to this host: the same ct mark.\n");
	put_mark_rules(f, p);
	fprintf(f, "\t}\n\n");
}

static void render_postrouting(FILE *f, const struct nft_params *p)
{
	char a[PREFIX_STRLEN], out[IFNAMSIZ + 16];
	struct prefix net = p->net, net6 = p->net6;

	/* Without an uplink, anything but the TUN itself: tunnel-to-tunnel
	 * traffic keeps its source address. */
	if (uplink_set(p))
		snprintf(out, sizeof(out), "oifname \"%s\"", p->uplink);
	else
		snprintf(out, sizeof(out), "oifname != \"%s\"", p->ifname);

	fprintf(f, "\tchain postrouting {\n");
	fprintf(f, "\t\ttype nat hook postrouting priority srcnat; policy accept;\n\n");
	fprintf(f, "\t\t# Masquerade the tunnel subnet out of %s.\n",
	        uplink_set(p) ? "the uplink" : "any interface but the TUN");
	prefix_mask(&net);
	fprintf(f, "\t\tip saddr %s %s counter masquerade\n", prefix_format(&net, a, sizeof(a)),
	        out);
	if (p->has_net6) {
		prefix_mask(&net6);
		fprintf(f, "\t\tip6 saddr %s %s counter masquerade\n",
		        prefix_format(&net6, a, sizeof(a)), out);
	}
	fprintf(f, "\t}\n");
}

int nft_render(const struct nft_params *p, char **text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = NULL;
	int ret = 0;

	if (!text)
		return -EINVAL;
	*text = NULL;
	if (!p || !params_ok(p))
		return -EINVAL;

	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;

	fprintf(f, "# Generated by gatewayd from its configuration: edit that, not this.\n");
	fprintf(f, "# Every change replaces the whole table in one transaction.\n");
	fprintf(f, "table inet %s {\n", NFT_TABLE);
	fprintf(f, "\t# Owned by gatewayd's netlink socket: nothing else can change it, and\n");
	fprintf(f, "\t# the kernel removes it when gatewayd exits, however it exits.\n");
	fprintf(f, "\tflags owner\n\n");
	render_map(f, p, false);
	if (p->has_net6)
		render_map(f, p, true);
	render_forward(f, p);
	render_input(f, p);
	render_postrouting(f, p);
	if (p->inner)
		fprintf(f, "\n%s", p->inner);
	fprintf(f, "}\n");

	if (ferror(f))
		ret = -ENOMEM;
	if (fclose(f))
		ret = -ENOMEM;
	if (ret)
		goto out;
	*text = buf; /* ownership moves to the caller */
	buf = NULL;
out:
	free(buf);
	return ret;
}

/* The same text to the caller's err, with our memfd's name replaced by
 * "ruleset" so a message reads "ruleset:34:9-14: Error: ...". */
static void copy_err(char *err, size_t errlen, const char *msg, const char *path)
{
	size_t plen = strlen(path), n = 0;

	while (*msg && n + 1 < errlen) {
		if (!strncmp(msg, path, plen)) {
			n += snprintf(err + n, errlen - n, "ruleset");
			msg += plen;
			continue;
		}
		err[n++] = *msg++;
	}
	if (n >= errlen)
		n = errlen - 1;
	while (n && err[n - 1] == '\n')
		n--;
	err[n] = '\0';
}

/* One libnftables batch: the kernel commits all of buf or nothing. buf goes
 * through a memfd rather than nft_run_cmd_from_buffer because libnftables
 * (1.0.6) quotes the first line of a buffer, without a line number, for an
 * error anywhere in it; from a file it names the line and quotes it. */
static int run(struct nft_ctx *ctx, const char *buf, char *err, size_t errlen)
{
	char path[32];
	const char *msg;
	int fd = -1, ret = 0;

	if (err && errlen)
		err[0] = '\0';
	fd = memfd_create("egress-nft", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = file_write_all(fd, buf, strlen(buf));
	if (ret)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	ret = nft_run_cmd_from_filename(ctx, path);
	/* libnftables frees most of its parse of the text when it is done,
	 * but malloc keeps what was freed: with 60,000 clients 0.6 GB that the
	 * daemon would hold for nothing. */
	malloc_trim(0);
	if (ret == 0)
		goto out;

	msg = nft_ctx_get_error_buffer(ctx);
	if (!msg || !msg[0])
		msg = "libnftables failed without a message";
	/* EPERM: no CAP_NET_ADMIN, or another socket owns the table;
	 * EOPNOTSUPP: a table of that name without the owner flag exists. */
	if (strstr(msg, "Operation not permitted"))
		ret = -EPERM;
	else if (strstr(msg, "Operation not supported"))
		ret = -EOPNOTSUPP;
	else
		ret = -EINVAL;
	if (err && errlen)
		copy_err(err, errlen, msg, path);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int nft_open(struct nft_owner **owner)
{
	struct nft_owner *o = calloc(1, sizeof(*o));

	*owner = NULL;
	if (!o)
		return -ENOMEM;
	o->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	/* buffered, so libnftables never writes to our stdout or stderr */
	if (!o->ctx || nft_ctx_buffer_output(o->ctx) || nft_ctx_buffer_error(o->ctx)) {
		nft_close(o);
		return -ENOMEM;
	}
	*owner = o;
	return 0;
}

void nft_close(struct nft_owner *o)
{
	if (!o)
		return;
	if (o->ctx)
		nft_ctx_free(o->ctx);
	free(o);
}

int nft_apply(struct nft_owner *o, const char *text, char *err, size_t errlen)
{
	char *buf = NULL;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!o || !text)
		return -EINVAL;
	if (asprintf(&buf, "%s%s", REPLACE_PREFIX, text) < 0)
		return -ENOMEM;
	ret = run(o->ctx, buf, err, errlen);
	free(buf);
	return ret;
}

int nft_run(struct nft_owner *o, const char *text, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!o || !text)
		return -EINVAL;
	return run(o->ctx, text, err, errlen);
}

/* {"nftables": [{"metainfo": {...}}, {"counter": {"name": N, "table": T,
 * "packets": P, "bytes": B, ...}}, ...]}, as libnftables 1.0.6 lists them. */
static int walk_counters(json_t *root, nft_counter_fn *fn, void *arg)
{
	json_t *list = json_object_get(root, "nftables"), *item;
	size_t i;

	if (!json_is_array(list))
		return -EINVAL;
	json_array_foreach(list, i, item)
	{
		json_t *c = json_object_get(item, "counter");
		const char *name, *table;
		json_int_t packets, bytes;
		int ret;

		if (!c)
			continue;
		if (json_unpack(c, "{s:s, s:s, s:I, s:I}", "name", &name, "table", &table,
		                "packets", &packets, "bytes", &bytes) < 0)
			return -EINVAL;
		if (strcmp(table, NFT_TABLE) || packets < 0 || bytes < 0)
			continue;
		ret = fn(arg, name, (uint64_t)packets, (uint64_t)bytes);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- a change of clients */

static int client_by_name(const void *a, const void *b)
{
	return strcmp((*(const struct nft_client *const *)a)->name,
	              (*(const struct nft_client *const *)b)->name);
}

/* p's clients by name, in a malloc'd array of pointers. */
static const struct nft_client **by_name(const struct nft_params *p)
{
	const struct nft_client **v = calloc(p->n_clients + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < p->n_clients; i++)
		v[i] = &p->clients[i];
	qsort(v, p->n_clients, sizeof(*v), client_by_name);
	return v;
}

static bool same_element(const struct nft_client *a, const struct nft_client *b)
{
	return a->id == b->id && !prefix_cmp(&a->addr, &b->addr) && a->has_addr6 == b->has_addr6 &&
	       (!a->has_addr6 || !prefix_cmp(&a->addr6, &b->addr6));
}

/* The elements of c, added or deleted. */
static void put_elements(FILE *f, const struct nft_params *p, const struct nft_client *c, bool add)
{
	char a[PREFIX_STRLEN];

	for (int v6 = 0; v6 <= (p->has_net6 && c->has_addr6); v6++) {
		prefix_format_addr(v6 ? &c->addr6 : &c->addr, a, sizeof(a));
		if (add)
			fprintf(f,
			        "add element inet %s client_mark%s { %s comment \"%s\" : 0x%08x }\n",
			        NFT_TABLE, v6 ? "6" : "", a, c->name,
			        nft_client_mark(p->mark_tag, c->id));
		else
			fprintf(f, "delete element inet %s client_mark%s { %s }\n", NFT_TABLE,
			        v6 ? "6" : "", a);
	}
}

/* Calls put for each client of x that y has not, or not the same (by name,
 * both sorted). */
static void each_changed(FILE *f, const struct nft_params *px, const struct nft_client **x,
                         const struct nft_params *py, const struct nft_client **y, bool add)
{
	size_t i = 0, j = 0;

	while (i < px->n_clients) {
		int c = j < py->n_clients ? strcmp(x[i]->name, y[j]->name) : -1;

		if (c > 0) {
			j++;
			continue;
		}
		if (c < 0 || !same_element(x[i], y[j]))
			put_elements(f, px, x[i], add);
		i++;
		if (c == 0)
			j++;
	}
}

int nft_render_client_change(const struct nft_params *old, const struct nft_params *now,
                             char **text)
{
	const struct nft_client **o = NULL, **n = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret = -ENOMEM;

	*text = NULL;
	if (!params_ok(old) || !params_ok(now) || old->has_net6 != now->has_net6 ||
	    old->mark_tag != now->mark_tag)
		return -EINVAL;
	o = by_name(old);
	n = by_name(now);
	f = o && n ? open_memstream(&buf, &len) : NULL;
	if (f) {
		/* Every delete before any add: two clients may swap addresses. */
		each_changed(f, old, o, now, n, false);
		each_changed(f, now, n, old, o, true);
		if (fclose(f) == 0) {
			*text = buf;
			buf = NULL;
			ret = 0;
		}
	}
	free(buf);
	free(o);
	free(n);
	return ret;
}

/* cmd's listing as JSON, in *root (json_decref). A context of its own, not
 * the owner's: a listing needs no ownership, and the owner's may be in a
 * transaction on the worker thread. 0, -ENOMEM, or -EINVAL with err. */
static int list_json(const char *cmd, json_t **root, char *err, size_t errlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	json_error_t jerr;
	int ret = 0;

	*root = NULL;
	if (!ctx || nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
		ret = -ENOMEM;
		goto out;
	}
	nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	if (nft_run_cmd_from_buffer(ctx, cmd)) {
		if (err && errlen)
			snprintf(err, errlen, "%s", nft_ctx_get_error_buffer(ctx));
		ret = -EINVAL;
		goto out;
	}
	*root = json_loads(nft_ctx_get_output_buffer(ctx), 0, &jerr);
	if (!*root) {
		if (err && errlen)
			snprintf(err, errlen, "the listing is not JSON: %s", jerr.text);
		ret = -EINVAL;
	}
out:
	if (ctx)
		nft_ctx_free(ctx);
	return ret;
}

int nft_counters(struct nft_owner *o, nft_counter_fn *fn, void *arg, char *err, size_t errlen)
{
	json_t *root;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!o || !fn)
		return -EINVAL;
	ret = list_json("list counters table inet " NFT_TABLE, &root, err, errlen);
	if (ret == 0)
		ret = walk_counters(root, fn, arg);
	if (ret == -EINVAL && root && err && errlen)
		snprintf(err, errlen, "the counters' listing is not understood");
	json_decref(root);
	return ret;
}

/* {"nftables": [{"metainfo": ...}, {"set": {"name": N, "elem": [{"elem":
 * {"val": K, "counter": {"packets": P, "bytes": B}}}, ...], ...}}]}: libnftables
 * 1.0.6 on a set with the counter flag; "elem" is absent while it is empty. */
static int walk_elements(json_t *root, nft_element_fn *fn, void *arg)
{
	json_t *list = json_object_get(root, "nftables"), *item, *elems, *e;
	size_t i, k;

	if (!json_is_array(list))
		return -EINVAL;
	json_array_foreach(list, i, item)
	{
		json_t *set = json_object_get(item, "set");

		if (!set)
			continue;
		elems = json_object_get(set, "elem");
		json_array_foreach(elems, k, e)
		{
			json_int_t key, packets, bytes;
			int ret;

			if (json_unpack(e, "{s:{s:I, s:{s:I, s:I}}}", "elem", "val", &key,
			                "counter", "packets", &packets, "bytes", &bytes) < 0)
				return -EINVAL;
			if (key < 0 || packets < 0 || bytes < 0)
				continue;
			ret = fn(arg, (uint64_t)key, (uint64_t)packets, (uint64_t)bytes);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int nft_set_counters(struct nft_owner *o, const char *set, nft_element_fn *fn, void *arg, char *err,
                     size_t errlen)
{
	char cmd[128];
	json_t *root;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!o || !fn ||
	    snprintf(cmd, sizeof(cmd), "list set inet %s %s", NFT_TABLE, set) >= (int)sizeof(cmd))
		return -EINVAL;
	ret = list_json(cmd, &root, err, errlen);
	if (ret == 0)
		ret = walk_elements(root, fn, arg);
	if (ret == -EINVAL && root && err && errlen)
		snprintf(err, errlen, "the listing of set %s is not understood", set);
	json_decref(root);
	return ret;
}

int nft_remove(struct nft_owner *o)
{
	if (!o)
		return -EINVAL;
	return run(o->ctx, REPLACE_PREFIX "\n", NULL, 0);
}
