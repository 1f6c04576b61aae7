/* `wg show` on the daemons: the "get" operation of WireGuard's cross-platform
 * userspace API (wireguard.com/xplatform), served on the unix socket
 * DIR/IFNAME.sock where wg(8) looks for a userspace implementation such as
 * wireguard-go (DIR is /var/run/wireguard for Debian's wg). It knows no role.
 *
 * The protocol, on a SOCK_STREAM connection, one operation after another:
 *
 *   "get=1\n\n"  ->  "private_key=HEX\n" "listen_port=N\n" ["fwmark=N\n"]
 *                    then per peer "public_key=HEX\n" "preshared_key=HEX\n"
 *                    "protocol_version=1\n" ["endpoint=IP:PORT\n"]
 *                    "last_handshake_time_sec=N\n" "last_handshake_time_nsec=N\n"
 *                    "tx_bytes=N\n" "rx_bytes=N\n" "persistent_keepalive_interval=N\n"
 *                    "allowed_ip=CIDR\n"..., and last "errno=0\n\n"
 *   "set=1\n" LINE... "\n"  ->  "errno=-1\n\n" (EPERM): the YAML files are the
 *                    configuration, nothing changes it behind their back
 *   anything else    ->  "errno=-22\n\n" (EINVAL), and the connection is closed
 *
 * The errno values are negative, as wireguard-go sends them: wg(8) gives the
 * number of a failed set, negated, to perror(). Byte counts are those of
 * wg_peer_stats (the inner packets), as SIGUSR1 logs them.
 *
 * Nothing a client does blocks the loop: the socket is non-blocking, at most
 * max_conns connections are served at once (others are closed at once),
 * requests are taken in bounded pieces, and a connection that makes no
 * progress for idle_ms (sends no request, or stops reading its reply) is
 * dropped. */
#ifndef EGRESS_UAPI_H
#define EGRESS_UAPI_H

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct uapi_server;
struct wg_device;

/* Where Debian's wg(8) looks for the sockets. */
#define UAPI_DIR "/var/run/wireguard"
/* The server's defaults. */
#define UAPI_IDLE_MS   5000
#define UAPI_MAX_CONNS 16
/* The bytes of a set request read (and dropped) before it is refused
 * anyway: wg(8) writes the whole request before it reads the answer, so it
 * is read to its end when it is no longer than this. */
#define UAPI_SET_MAX (64 * 1024)

struct uapi_params {
	const char *dir;    /* NULL: UAPI_DIR; made 0755 if missing */
	const char *ifname; /* the socket is DIR/IFNAME.sock */
	struct wg_device *dev;
	unsigned idle_ms;   /* 0: UAPI_IDLE_MS */
	unsigned max_conns; /* 0: UAPI_MAX_CONNS */
};

/* Binds DIR/IFNAME.sock (mode 0600) and serves it in l. A socket file there is
 * replaced only when connect() to it is refused. 0, or -errno with one line
 * in err: -EADDRINUSE (a server answers on it: a daemon or wireguard-go with
 * that interface name), -ENAMETOOLONG, or as sockfile_listen(). */
int uapi_open(struct uapi_server **out, struct loop *l, const struct uapi_params *p, char *err,
              size_t errlen);
/* Accepts NULL. Drops every connection, takes the server out of the loop and
 * removes the socket file (unless someone replaced it meanwhile). */
void uapi_close(struct uapi_server *s);
/* Connections open now (for tests). */
size_t uapi_conns(const struct uapi_server *s);

/* DIR/IFNAME.sock into buf: 0, or -ENAMETOOLONG when it does not fit size
 * bytes (a socket path has at most 107). */
int uapi_socket_path(char *buf, size_t size, const char *dir, const char *ifname);

/* The pure halves, for tests and fuzzing. */

enum uapi_op {
	UAPI_MORE,    /* no whole request yet */
	UAPI_GET,     /* "get=1\n\n" */
	UAPI_SET,     /* "set=1\n" and its lines up to a blank one */
	UAPI_TOO_BIG, /* a set request past UAPI_SET_MAX */
	UAPI_INVALID, /* anything else; the parser takes nothing more */
};

/* The request parser of one connection: zero it to start. It keeps only the
 * operation's line, so requests of any length cost a few bytes. */
struct uapi_parser {
	unsigned state;
	size_t n;   /* bytes of the operation line, or of the set request */
	char op[8]; /* the operation line so far */
};

/* Takes bytes of the connection's stream: returns how many it consumed and in
 * *op what they end with. It stops right after a whole request (GET, SET),
 * so the rest is the next request's; UAPI_TOO_BIG and UAPI_INVALID are
 * final. After GET or SET it parses the next request. */
size_t uapi_parse(struct uapi_parser *p, const void *buf, size_t len, enum uapi_op *op);

/* The reply to a get (its "errno=0\n\n" included), rendered from the device:
 * 0 with *out (malloc'd; it holds the private key: uapi_reply_free) and *len,
 * or -ENOMEM. */
int uapi_render(const struct wg_device *d, char **out, size_t *len);
/* Wipes and frees a reply from uapi_render(); accepts NULL. */
void uapi_reply_free(char *reply, size_t len);

#endif
