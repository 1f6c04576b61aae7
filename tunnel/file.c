/* Files written whole: see file.h. */
#include "tunnel/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
