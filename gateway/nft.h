/* The gateway's one nftables table, `inet egress`: rendered as readable text
 * from a few parameters, applied as one atomic transaction that replaces the
 * whole table, owned by the daemon's netlink socket and removed on shutdown.
 * No other table is ever touched. */
#ifndef EGRESS_GATEWAY_NFT_H
#define EGRESS_GATEWAY_NFT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/prefix.h"

#define NFT_TABLE "egress" /* family inet */

struct nft_client {
	const char *name;   /* [A-Za-z0-9_.-], 1..31 characters: an element comment */
	struct prefix addr; /* an IPv4 address (length 32) inside net */
	bool has_addr6;
	struct prefix addr6; /* length 128, inside net6; only when the params have a v6 subnet */
	uint32_t id;         /* inside mark_id_mask */
};

struct nft_params {
	const char *ifname; /* the TUN device */
	const char *uplink; /* NULL or "": masquerade out of any interface but the TUN */
	struct prefix net;  /* the tunnel subnet, IPv4; host bits are ignored */
	bool has_net6;
	struct prefix net6;    /* the same for IPv6 */
	unsigned mtu;          /* the TUN's, 1280..9000 */
	uint32_t mark_tag;     /* high bits of every ct mark we set; none inside mark_id_mask */
	uint32_t mark_id_mask; /* contiguous low bits */
	const struct nft_client *clients;
	size_t n_clients;
	/* NULL, or more of the table's body (the policy's objects and rules),
	 * put in verbatim before its closing brace. */
	const char *inner;
};

/* The ct mark of a client's flows: conntrack -L -m tag/~mask selects them all. */
uint32_t nft_client_mark(uint32_t tag, uint32_t id);

/* Pure: renders the whole `table inet egress { ... }` for p. The same params
 * always give the same text. Interface and client names are checked against
 * [A-Za-z0-9_.-] so nothing can escape their quotes. Returns 0 and a malloc'd
 * *text owned by the caller (free), -EINVAL for inconsistent params (*text is
 * then NULL), -ENOMEM. */
int nft_render(const struct nft_params *p, char **text);
/* Pure: the commands that take the table's client maps from old's clients
 * to now's, to run inside the table (nft_run) with the policy's change: a
 * delete for the elements of each client gone or changed (matched by name),
 * then an add for each new or changed one. "" when nothing changed. The
 * other params must agree (-EINVAL). */
int nft_render_client_change(const struct nft_params *old, const struct nft_params *now,
                             char **text);

/* The table carries nft's owner flag: it belongs to the netlink socket of an
 * nft_owner, which no other process can change or delete it through, and the
 * kernel deletes it when that socket closes, so even a killed gatewayd leaves
 * nothing behind. nft_open() returns 0 or -ENOMEM. nft_close() (NULL is fine)
 * closes the socket, and the table goes with it. */
struct nft_owner;
int nft_open(struct nft_owner **owner);
void nft_close(struct nft_owner *owner);

/* Replaces table inet egress by text (nft_render's output) in one transaction:
 * either all of it applies or the kernel keeps the old table unchanged. Returns
 * 0; -EPERM without CAP_NET_ADMIN or when another process owns the table;
 * -EOPNOTSUPP when a table inet egress without the owner flag exists (made by
 * hand, say); -EINVAL when libnftables or the kernel rejects the text; -ENOMEM.
 * On failure err (may be NULL) holds libnftables' message, "ruleset:LINE:COL:
 * Error: ..." with the text's own line numbers, and the line quoted. */
int nft_apply(struct nft_owner *owner, const char *text, char *err, size_t errlen);

/* Runs text as one batch as it is, inside the table that exists: a policy
 * apply, which must keep the table's stateful objects. The same returns and
 * err as nft_apply(). */
int nft_run(struct nft_owner *owner, const char *text, char *err, size_t errlen);

/* Calls fn once for each named counter of table inet egress, as the kernel
 * has them now (through a netlink socket of its own, so from any thread). 0, or -errno (-EINVAL
 * when the listing is not understood, with err), or what fn returned when not 0, which stops the
 * walk. */
typedef int nft_counter_fn(void *arg, const char *name, uint64_t packets, uint64_t bytes);
int nft_counters(struct nft_owner *owner, nft_counter_fn *fn, void *arg, char *err, size_t errlen);

/* The same for the elements of set (a set of table inet egress with the
 * counter flag, keyed by a number: a mark), each with its counter. */
typedef int nft_element_fn(void *arg, uint64_t key, uint64_t packets, uint64_t bytes);
int nft_set_counters(struct nft_owner *owner, const char *set, nft_element_fn *fn, void *arg,
                     char *err, size_t errlen);

/* Deletes table inet egress now; 0 also when there was none. -EPERM, -EINVAL. */
int nft_remove(struct nft_owner *owner);

#endif
