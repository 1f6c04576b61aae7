/* DNS while edged runs: the resolvers of edge.yaml (dns:) become the host's,
 * in one of two ways.
 *   - systemd-resolved, when resolv_conf resolves to a file under
 *     /run/systemd/resolve/ and edged runs in the init network namespace:
 *     resolvectl gives the tunnel's link the resolvers and the routing
 *     domain "~.", so every query goes there. The settings go with the link,
 *     so a killed edged leaves nothing behind to put back.
 *   - otherwise resolv_conf itself, rewritten in place: the same inode, mode
 *     and owner, so a bind mount or a symlink's target stays as it was. Its
 *     original bytes are kept first in STATE_DIR/resolv.conf, with the path
 *     and edged's pid, and written back byte for byte by a clean stop, by
 *     `edged --down`, or by the next start after a crash.
 * The kill switch keeps queries from going anywhere else (killswitch.h). */
#ifndef EGRESS_EDGE_DNS_H
#define EGRESS_EDGE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tunnel/prefix.h"

#define DNS_SAVED_FILE "resolv.conf"

enum dns_how {
	DNS_NONE,     /* nothing set */
	DNS_FILE,     /* resolv_conf rewritten, the original saved */
	DNS_RESOLVED, /* systemd-resolved, on the tunnel's link */
};

struct dns_params {
	const char *ifname;      /* the tunnel's */
	const char *resolv_conf; /* as edge.yaml says */
	const char *state_dir;
	const struct prefix *dns; /* 1..EDGE_DNS_MAX resolvers */
	size_t n_dns;
};

/* Points the host at p's resolvers, the way above: 0 with *how, or -1
 * (said; nothing changed). A saved original a crashed edged left is put back
 * first; one of an edged still running is refused. */
int dns_up(const struct dns_params *p, enum dns_how *how);
/* New resolvers (SIGHUP), p's in place of old's, for how dns_up() set
 * them; the file is the one dns_up() rewrote (the saved original says
 * which), whatever resolv_conf's symlinks say now. 0 or -1 (said; old's are
 * written back). */
int dns_change(const struct dns_params *p, const struct dns_params *old, enum dns_how how);
/* Undoes dns_up(): the original back, byte for byte, or resolved's link
 * settings reverted. Logs what it did and any failure. */
void dns_down(const struct dns_params *p, enum dns_how how);
/* `edged --down` and a start after a crash: puts back the original kept in
 * state_dir, if there is one. 1 done, 0 none, -1 (said; -EBUSY: an edged
 * still running owns it). */
int dns_restore_saved(const char *state_dir);

/* Pure: the resolv.conf edged writes, nameserver lines for the resolvers,
 * into *text (free). 0 or -ENOMEM. */
int dns_render(const struct dns_params *p, char **text);

/* The saved original: "egress-edge resolv.conf\npid N\npath P\n\n" and then
 * its bytes. Pure: 0 with *s (body points into buf), or -EINVAL for
 * anything else. */
struct dns_saved {
	pid_t pid;
	char path[4096]; /* absolute */
	const char *body;
	size_t body_len;
};
int dns_saved_parse(const char *buf, size_t len, struct dns_saved *s);

/* Whether path (after symlinks) lies under /run/systemd/resolve/: pure but
 * for realpath(). */
bool dns_is_resolved_path(const char *real);

#endif
