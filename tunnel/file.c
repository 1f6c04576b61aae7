/* Files written whole: see file.h. */
#include "tunnel/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t off = 0;

	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		off += (size_t)w;
	}
	return 0;
}

/* buf into a file opened with flags, flushed and closed; unlinked on error. */
static int write_new(const char *path, int flags, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode), ret;

	if (fd < 0)
		return -errno;
	/* The mode asked for, whatever the umask. */
	ret = fchmod(fd, mode) < 0 ? -errno : 0;
	if (!ret)
		ret = file_write_all(fd, buf, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (ret)
		unlink(path);
	return ret;
}

int file_write_temp(const char *path, const void *buf, size_t len, mode_t mode, char *tmp,
                    size_t size)
{
	if (snprintf(tmp, size, "%s.new.%ld", path, (long)getpid()) >= (int)size)
		return -ENAMETOOLONG;
	return write_new(tmp, O_TRUNC, buf, len, mode);
}

int file_create(const char *path, const void *buf, size_t len, mode_t mode)
{
	return write_new(path, O_EXCL, buf, len, mode);
}

int file_make_dirs(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (!n || n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

int file_read_all(const char *path, size_t max, char **buf, size_t *len)
{
	size_t n = 0, cap = 4096;
	char *b = malloc(cap + 1);
	int fd, ret = 0;

	*buf = NULL;
	*len = 0;
	if (!b)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(b);
		return -errno;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > max) {
				ret = -EFBIG;
				break;
			}
			nb = realloc(b, cap * 2 + 1);
			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!ret && n > max)
		ret = -EFBIG;
	if (ret < 0) {
		free(b);
		return ret;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}
