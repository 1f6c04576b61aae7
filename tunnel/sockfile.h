/* The file of a unix socket a server listens on, the same way for every
 * server of the daemons (the control socket, the `wg show` socket): its
 * directory made when missing, a socket file left by a dead server replaced
 * but never one that a live server answers on, the mode set before anyone can
 * connect, and on close the file removed only if it is still the one bound. */
#ifndef EGRESS_SOCKFILE_H
#define EGRESS_SOCKFILE_H

#include <stddef.h>
#include <sys/types.h>

/* sizeof(sun_path): the longest path a socket file can have, with its NUL. */
#define SOCKFILE_PATH_MAX 108

struct sockfile {
	char path[SOCKFILE_PATH_MAX];
	dev_t dev;
	ino_t ino; /* 0: nothing bound (yet) */
};

/* Binds a non-blocking, close-on-exec socket of type (SOCK_STREAM,
 * SOCK_SEQPACKET) at path with mode (and group, unless (gid_t)-1) and listens
 * on it: the fd, or -errno with one line in err. The last level of the
 * directory is made 0755 when missing. An existing socket file is replaced
 * only when connect() to it is refused, whatever its type; then, and when a
 * directory is made, it logs one line. -EADDRINUSE: a server answers on path;
 * -EEXIST: path is something else than a socket; -ENAMETOOLONG; or what a
 * system call returned. f is filled on success, and zeroed on failure. */
int sockfile_listen(struct sockfile *f, const char *path, int type, mode_t mode, gid_t group,
                    char *err, size_t errlen);
/* Removes the file if it is still the one sockfile_listen() bound (a newer
 * server may have replaced it); accepts a zeroed f. The fd is the caller's to
 * close. */
void sockfile_remove(struct sockfile *f);

#endif
