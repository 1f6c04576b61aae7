/* The control socket a daemon serves and its command-line tool talks to: a
 * unix SOCK_SEQPACKET socket carrying JSON (jansson), one request and its
 * reply per connection. Shared by gatewayd and edged; it knows no command.
 *
 * The protocol. The client connects, sends one request and reads the reply;
 * the server closes the connection once the reply is written.
 *
 *   request: one message of at most CTL_MSG_MAX bytes, with at most one
 *   descriptor attached (SCM_RIGHTS; a policy file travels as one, say):
 *       {"cmd": "NAME", "args": {...}}
 *   NAME is 1..CTL_CMD_MAX-1 of [a-z0-9._-]; "args" is optional and an
 *   object; no other key.
 *
 *   reply: one or more messages ("parts") of at most CTL_MSG_MAX bytes:
 *       {"ok": true,  "more": false, "data": VALUE}
 *       {"ok": false, "more": false, "error": "why", "data": VALUE}
 *   "data" is optional (absent: null). A reply too large for one message is
 *   split: every part but the last says "more": true, all parts say the same
 *   "ok", only the first carries "error". Only an array or a string is ever
 *   split: each part's "data" is a run of the elements (or of the
 *   characters, cut between UTF-8 sequences), and concatenating them in
 *   order gives the value back exactly. A reply that is neither and does
 *   not fit one message is replaced by an error reply.
 *
 * A stream is a reply of no fixed length (`gatewayctl flows --watch`): parts
 * that say "more": true, each with its own "data" whole (any value; none in a
 * keepalive, sent after CTL_KEEPALIVE_MS without a part), as the server has
 * them, until a last part says "more": false. That one may say "ok": false
 * with an "error" (a client too slow to read was cut off). The client ends a
 * stream by closing the connection; the server notices and frees it. Which
 * commands stream is theirs to say: a client that reads a stream as an
 * ordinary reply gets -EPROTO (a part holding neither array nor string).
 *
 * Every request that is not one of these (malformed JSON, not an object, an
 * unknown key, wrong types, too large, several descriptors, empty) gets an
 * error reply; so does a peer that is neither root nor in the control group
 * (checked by its credentials, SO_PEERCRED and SO_PEERGROUPS, so a process
 * that gets past the socket file's mode is refused all the same), and one
 * connection too many. A connection that makes no progress (sends no
 * request, or stops reading its reply) for idle_ms is dropped; replies are
 * queued and written as the socket takes them, so nothing a client does or
 * fails to do blocks the server's loop. */
#ifndef EGRESS_CTL_H
#define EGRESS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct json_t;
struct loop;
struct ctl_server;
struct ctl_reader;

/* The largest message either side sends or takes. An AF_UNIX datagram must
 * fit the sender's send buffer less 32 bytes: 212,960 bytes with Linux's
 * default wmem_default of 212,992. Both sides ask for twice this as their
 * SO_SNDBUF, and 128 KiB leaves room below even the default. */
#define CTL_MSG_MAX (128 * 1024)
/* A command name's buffer, with its NUL. */
#define CTL_CMD_MAX 64
/* The server's defaults. */
#define CTL_IDLE_MS   5000
#define CTL_MAX_CONNS 16
/* The client's: how long it waits for the next part of a reply. */
#define CTL_TIMEOUT_MS 10000
/* Streams: a keepalive part after this long without one, and how long a
 * client waits for any part before it takes the server for dead. */
#define CTL_KEEPALIVE_MS      5000
#define CTL_STREAM_TIMEOUT_MS (3 * CTL_KEEPALIVE_MS)
/* The parts a stream may have waiting for a client that does not read:
 * one more and the client is cut off. */
#define CTL_STREAM_QUEUE 256
/* What a reader takes at most, all parts together (a safety net against a
 * server gone wrong: 100,000 flows are some 20 MB). */
#define CTL_REPLY_MAX (256u * 1024 * 1024)

/* One request as the server's handler sees it. */
struct ctl_request {
	const char *cmd;     /* the command name */
	struct json_t *args; /* an object (empty when the request had none); borrowed */
	int fd;              /* the descriptor that came with it, or -1; the server
	                      * closes it after the handler unless the handler takes
	                      * it by setting fd to -1 */
	pid_t pid;           /* the peer, from SO_PEERCRED */
	uid_t uid;
	gid_t gid;
	void *conn; /* the server's, for ctl_defer() */
};

/* A reply, as the server sends it and as the client gets it back. */
struct ctl_reply {
	bool ok;
	char *error;         /* !ok: why (malloc'd, never NULL then); NULL when ok */
	struct json_t *data; /* NULL: none (null) */
};
/* Accepts NULL; frees the members and r. */
void ctl_reply_free(struct ctl_reply *r);

/* The handler answers one request: 0 with the reply's data in *data, or
 * a negative errno for an error reply whose message it writes to err (an
 * empty err sends strerror); it may set *data either way. *data passes to
 * the server, which frees it. It runs in the server's loop: it must not
 * block. A descriptor it reads may be anything (a FIFO, a socket):
 * ctl_fd_read() reads regular files only. */
typedef int (*ctl_handler_fn)(void *arg, struct ctl_request *req, struct json_t **data, char *err,
                              size_t errlen);

/* A handler whose work takes long (it goes to a worker thread, see
 * tunnel/worker.h) answers later: it calls ctl_defer() and returns
 * CTL_DEFERRED. The connection then waits, out of the loop and without the
 * idle timeout, until ctl_pending_reply() answers it, from the loop's
 * thread: rc, data (taken) and err (NULL: none) as a handler returns them.
 * Every deferred request must be answered before ctl_server_close(), which
 * otherwise drops its connection; the token is gone after either. */
#define CTL_DEFERRED 1
struct ctl_pending;
struct ctl_pending *ctl_defer(struct ctl_request *req);
void ctl_pending_reply(struct ctl_pending *p, int rc, struct json_t *data, const char *err);
/* The same in two steps, for a reply too large to encode on the loop
 * (100,000 flows are seconds of CPU): ctl_answer_encode() on any thread
 * (it takes data; cmd, NULL or the request's name, is for the log line of
 * a reply that cannot be sent), then ctl_pending_send() on the loop's
 * thread, which takes the parts (NULL: the connection is dropped). */
struct ctl_parts;
struct ctl_parts *ctl_answer_encode(const char *cmd, int rc, struct json_t *data, const char *err);
void ctl_pending_send(struct ctl_pending *p, struct ctl_parts *parts);

/* A handler whose reply is a stream calls ctl_stream_start() and returns
 * CTL_DEFERRED (it must, once it called it). The connection is then the
 * caller's stream until one of:
 *   - ctl_stream_end() queues the last part (rc, data, err as a handler
 *     returns them; "more": false) and gives the token back;
 *   - ctl_stream_send() finds CTL_STREAM_QUEUE parts waiting: it queues an
 *     error as the last part, returns -ENOBUFS, and the token is gone;
 *   - the client hangs up, stops reading for idle_ms, or the server
 *     closes (which sends "more": false first, as far as the socket takes
 *     it): closed(arg) is called, from the loop's thread, and the token is
 *     gone. closed() is never called from inside ctl_stream_send() or
 *     ctl_stream_end(), nor after either gave the token back.
 * Parts are written from the loop as the socket takes them, never at once:
 * sending never blocks and never calls back. From the loop's thread only. */
struct ctl_stream;
typedef void ctl_stream_closed_fn(void *arg);
struct ctl_stream *ctl_stream_start(struct ctl_request *req, ctl_stream_closed_fn *closed,
                                    void *arg);
/* Queues one part, {"ok": true, "more": true, "data": data} (data
 * borrowed: encoded now). 0; -ENOBUFS (see above); -EMSGSIZE when data
 * does not fit a message (nothing sent, the stream goes on); -ENOMEM. */
int ctl_stream_send(struct ctl_stream *s, struct json_t *data);
void ctl_stream_end(struct ctl_stream *s, int rc, struct json_t *data, const char *err);

struct ctl_server_params {
	const char *path;   /* the socket file; its directory is made (0755) if missing */
	const char *group;  /* the control group by name; NULL or "": root only */
	unsigned idle_ms;   /* 0: CTL_IDLE_MS */
	unsigned max_conns; /* connections at once; 0: CTL_MAX_CONNS */
	ctl_handler_fn handler;
	void *arg;
};

/* Binds path (mode 0660, group p->group) and serves it in l. An existing
 * socket file is replaced only when nothing answers on it. 0, or -errno
 * with one line in err: -EADDRINUSE (a server answers on path), -EEXIST
 * (path is something else than a socket), -ENOENT (no such group, or a
 * missing directory above the socket's), -ENAMETOOLONG, or what a system
 * call returned. */
int ctl_server_open(struct ctl_server **out, struct loop *l, const struct ctl_server_params *p,
                    char *err, size_t errlen);
/* Accepts NULL. Drops every connection, takes the server out of the loop
 * and removes the socket file (unless someone replaced it meanwhile). */
void ctl_server_close(struct ctl_server *s);
/* Connections open now (for tests and status). */
size_t ctl_server_conns(const struct ctl_server *s);

/* The credential rule: root, or a process whose gid or supplementary groups
 * include the control group (has_group false: root only). */
bool ctl_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, bool has_group,
                      gid_t group);

/* Sends {"cmd": cmd, "args": args} (args borrowed, NULL: none) with fd
 * attached (-1: none) to the server at path and reads the whole reply,
 * waiting at most timeout_ms (0: CTL_TIMEOUT_MS) for each part. 0 with
 * *out (ctl_reply_free), ok or not; otherwise -errno with one line in err:
 * from connect() (-ENOENT, -ECONNREFUSED: no server; -EACCES: the socket
 * file's mode), -ETIMEDOUT, -EPROTO (the answer is not a reply, or ends
 * early), -EMSGSIZE (the request is larger than CTL_MSG_MAX). */
int ctl_call(const char *path, const char *cmd, struct json_t *args, int fd, unsigned timeout_ms,
             struct ctl_reply **out, char *err, size_t errlen);

/* A stream: sends the request as ctl_call() does, then calls part(arg,
 * data) for each part with "more": true and data (data borrowed; a
 * keepalive without data is not passed on), with no timeout but
 * CTL_STREAM_TIMEOUT_MS of silence. part returns 0 to go on, or anything
 * else, which ends the call (the connection closed) and is returned. 0 with
 * *out, the last part (ok or not: an ordinary error reply to the request
 * is one too); -EINTR when a signal interrupted it (a handler installed
 * without SA_RESTART: how a tool stops watching); otherwise what ctl_call()
 * returns, -EPROTO too when the server closes before a last part. */
typedef int ctl_part_fn(void *arg, struct json_t *data);
int ctl_stream_call(const char *path, const char *cmd, struct json_t *args, int fd,
                    ctl_part_fn *part, void *arg, struct ctl_reply **out, char *err, size_t errlen);

/* The pure halves, for tests and fuzzing. */

/* One part of a stream as a reply of its own: 0 with *out (ctl_reply_free)
 * and *more, or -EPROTO with the reason in err (not JSON, not a part, "ok"
 * without "error" disagreeing). */
int ctl_part_parse(const void *buf, size_t len, struct ctl_reply **out, bool *more, char *err,
                   size_t errlen);
/* One part holding r whole: 0 with *buf (malloc'd) and *len; -EMSGSIZE when
 * it is larger than part_max, -EINVAL (not encodable), -ENOMEM. */
int ctl_part_encode(const struct ctl_reply *r, bool more, size_t part_max, char **buf, size_t *len);

/* Parses one request message: 0 with *root (json_decref) holding what
 * req->cmd and req->args point into (req's other fields are untouched), or
 * -EINVAL with the reason in err, which the server sends back. */
int ctl_request_parse(const void *buf, size_t len, struct json_t **root, struct ctl_request *req,
                      char *err, size_t errlen);

/* A reply cut into messages of at most part_max bytes (the server uses
 * CTL_MSG_MAX): part i is buf[i], len[i] bytes. */
struct ctl_parts {
	size_t n;
	char **buf;
	size_t *len;
};
/* 0 with *out (ctl_parts_free); -EMSGSIZE when r does not fit (data that is
 * neither array nor string, or one element, too large for a part), -ENOMEM,
 * -EINVAL (r->error is not UTF-8, or data cannot be encoded). */
int ctl_reply_encode(const struct ctl_reply *r, size_t part_max, struct ctl_parts **out);
void ctl_parts_free(struct ctl_parts *p);

/* Puts a reply back together from its parts, one message at a time. */
struct ctl_reader *ctl_reader_new(void);
void ctl_reader_free(struct ctl_reader *rd);
/* 1: more parts to come; 0: that was the final one, ctl_reader_take() has
 * the reply; -EPROTO (with the reason in err): not a part, or not one that
 * can follow the ones before; -EMSGSIZE: past CTL_REPLY_MAX. After an error
 * the reader takes nothing more. */
int ctl_reader_feed(struct ctl_reader *rd, const void *buf, size_t len, char *err, size_t errlen);
/* The reply once complete (the caller owns it), NULL before. */
struct ctl_reply *ctl_reader_take(struct ctl_reader *rd);

/* Helpers for handlers; each error is a message in err and -EINVAL. */

/* args holds no key outside the NULL-terminated list known. */
int ctl_args_check(struct json_t *args, const char *const *known, char *err, size_t errlen);
/* args[key] as a string (borrowed): 0, or -ENOENT when absent (with a
 * message only when required), -EINVAL when not a string. */
int ctl_arg_str(struct json_t *args, const char *key, bool required, const char **out, char *err,
                size_t errlen);
/* args[key] as a bool, *out unchanged when absent. */
int ctl_arg_bool(struct json_t *args, const char *key, bool *out, char *err, size_t errlen);
/* Reads a passed descriptor that must be a regular file of at most max
 * bytes: 0 with *buf (malloc'd, NUL-terminated) and *len, or -errno with a
 * message: -EINVAL (not a regular file), -EFBIG (larger than max). */
int ctl_fd_read(int fd, size_t max, char **buf, size_t *len, char *err, size_t errlen);

#endif
