/* Socket files: see sockfile.h. */
#include "tunnel/sockfile.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tunnel/log.h"

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == SOCKFILE_PATH_MAX,
               "SOCKFILE_PATH_MAX is sun_path's size");

/* The socket's directory, made 0755 when missing (only the last level: /run
 * is the system's). */
static int make_dir(const char *path, char *err, size_t errlen)
{
	char dir[SOCKFILE_PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	dirname(dir);
	if (mkdir(dir, 0755) == 0) {
		log_info("created %s", dir);
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
	return -errno;
}

/* connect() to the socket at sa as each type in turn until one is not the
 * wrong type (EPROTOTYPE says nothing of whether a server is there): 0 when
 * it connected, or its -errno. Non-blocking, so a full backlog (-EAGAIN) is
 * an answer too. */
static int probe(const struct sockaddr_un *sa, int type)
{
	const int types[] = {type, SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM};
	int ret = -EPROTOTYPE;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && ret == -EPROTOTYPE; i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ? 0 : -errno;
		close(fd);
	}
	return ret;
}

/* An existing path: a socket nobody answers on is ours to replace. */
static int clear_stale(const char *path, int type, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int ret;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not replacing it", path);
		return -EEXIST;
	}
	strcpy(sa.sun_path, path);
	ret = probe(&sa, type);
	if (ret == -ECONNREFUSED) {
		if (unlink(path) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove the stale socket %s: %s", path,
			         strerror(errno));
			return -errno;
		}
		log_info("replaced the stale socket %s", path);
		return 0;
	}
	snprintf(err, errlen, "%s: another server answers on it", path);
	return -EADDRINUSE;
}

static int bind_listen(struct sockfile *f, int type, mode_t mode, gid_t group, char *err,
                       size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, ret;

	strcpy(sa.sun_path, f->path);
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	if (stat(f->path, &st) < 0)
		goto fail;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	/* Mode and group before listen(): until then nobody can connect. */
	if (chmod(f->path, mode) < 0 ||
	    (group != (gid_t)-1 && chown(f->path, (uid_t)-1, group) < 0))
		goto fail;
	if (listen(fd, 64) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

int sockfile_listen(struct sockfile *f, const char *path, int type, mode_t mode, gid_t group,
                    char *err, size_t errlen)
{
	int ret;

	memset(f, 0, sizeof(*f));
	if (strlen(path) >= sizeof(f->path)) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return -ENAMETOOLONG;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	ret = make_dir(f->path, err, errlen);
	if (!ret)
		ret = clear_stale(f->path, type, err, errlen);
	if (!ret)
		ret = bind_listen(f, type, mode, group, err, errlen);
	if (ret < 0) {
		sockfile_remove(f);
		memset(f, 0, sizeof(*f));
	}
	return ret;
}

void sockfile_remove(struct sockfile *f)
{
	struct stat st;

	if (f->ino && stat(f->path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino)
		unlink(f->path);
	f->ino = 0;
}
